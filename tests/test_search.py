"""Search (offentlighetsprincipen): Swedish stemming, phrases, prefixes, filters, the index kept in
step with the custody ledger (incremental equals rebuilt from the bucket, disposed captures leave
it), file modes, and errors as one line."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deployments.cli import app
from somearkiv.fixity import sha256_file
from somearkiv.models import ArchivedFile, FileRole
from somearkiv.retention import records_lock
from tasks.search import (
    QueryError,
    SearchIndex,
    parse_query,
    rebuild_index,
    stem,
    update_index,
)
from tasks.search.index import IndexedCapture, Source

from .factories import SHORT_GALLRING_S, account, capture_files

# Snowball's own Swedish stemmer (snowballstemmer 3.1.1, the reference implementation) on these
# words; ours without the definite -an must agree word for word.
SNOWBALL = dict(pair.split(":") for pair in """
skolan:skolan skola:skol skolor:skol skolorna:skol skolans:skolan skolverket:skolverket skolornas:skol nya:nya
nytt:nytt ny:ny kommunen:kommun kommunens:kommun kommuner:kommun kommunerna:kommun flickan:flickan
kvinnan:kvinnan plan:plan sedan:sedan fullt:fullt löst:löst möjligt:möj lekar:lek hästarna:häst bilarna:bil
huset:hus barnen:barn barnens:barn perstorps:perstorp perstorp:perstorp invånare:invån invånarna:invån
medborgare:medborg medborgarna:medborg kommunfullmäktige:kommunfullmäkt kommunstyrelsen:kommunstyr
förvaltningen:förvaltning förvaltningar:förvaltning biblioteket:bibliotek biblioteken:bibliotek
bibliotek:bibliotek läsning:läsning läsningen:läsning öppettider:öppettid öppet:öppet öppna:öppn öppnade:öppn
öppnar:öppn stängt:stäng stängd:stäng stänger:stäng vägarbete:vägarbet vägarbeten:vägarbet vägarbetet:vägarbet
trafiken:trafik trafik:trafik trafikverket:trafikverket hemsida:hemsid hemsidan:hemsidan hemsidor:hemsid
sidan:sidan sidor:sid sida:sid meddelande:meddel meddelanden:meddel meddelandet:meddel information:information
informationen:information evenemang:evenemang evenemanget:evenemanget evenemangen:evenemang
idrottshallen:idrottshall idrottshall:idrottshall simhallen:simhall simhall:simhall badet:bad bad:bad
badplatser:badplats badplatsen:badplats sommaren:somm sommar:somm vintern:vint vinter:vint hjärtligt:hjärt
välkomna:välkomn välkommen:välkomm välkomnar:välkomn tack:tack tackar:tack tackade:tack bygglov:bygglov
bygglovet:bygglov ansökan:ansökan ansökningar:ansökning ansöka:ansök förskolan:förskolan förskolor:förskol
förskola:förskol gymnasiet:gymnasiet gymnasium:gymnasium elever:elev eleverna:elev eleven:elev lärare:lär
lärarna:lär lärarens:lär snöröjning:snöröjning snöröjningen:snöröjning vatten:vatt vattnet:vattnet
avlopp:avlopp avloppet:avloppet renhållning:renhållning sopor:sop sophämtning:sophämtning
återvinning:återvinning äldreomsorgen:äldreomsorg äldreboende:äldreboend hemtjänst:hemtjänst
hemtjänsten:hemtjänst socialtjänsten:socialtjänst socialtjänst:socialtjänst kulturhuset:kulturhus
kultur:kultur kulturen:kultur möten:möt mötet:möt möte:möt sammanträde:sammanträd sammanträdet:sammanträd
protokoll:protokoll protokollet:protokollet beslut:beslut beslutet:beslut beslutade:beslut besluta:beslut
gatan:gatan gata:gat gator:gat gatorna:gat parken:park parker:park parkerna:park lekplatsen:lekplats
lekplatser:lekplats cykelväg:cykelväg cykelvägar:cykelväg jobbet:jobbet jobb:jobb arbeten:arbet arbetet:arbet
arbetar:arbet arbetade:arbet anställda:anställd anställd:anställd nyanställda:nyanställd
rekrytering:rekrytering fullständigt:fullständ fullständig:fullständ högtidligt:högtid högtidlig:högtid
ovanligt:ovan ovanlig:ovan tydligt:tyd tydlig:tyd trevligt:trev trevlig:trev snabbt:snabbt snabb:snabb
kallt:kallt kall:kall rätt:rätt rätta:rätt rättigheter:rätt sist:sist sista:sist störst:störst största:störst
bäst:bäst bästa:bäst medarbetare:medarbet medarbetarna:medarbet chefer:chef chefen:chef ledningen:ledning
ledning:ledning fabet:fabet pakets:paket raket:raket rakets:raket kometen:komet komet:komet anden:and
andens:and hetens:het heterna:het heter:het hetsig:hets skrivet:skriv skrivets:skriv paketet:paket lösta:löst
blöst:blöst tröst:tröst tröstade:tröst
""".split())

UTC = dt.UTC


# -- stemming and the query language (no servers) -------------------------------------------------


def test_stemmer_agrees_with_the_snowball_reference():
    assert len(SNOWBALL) > 200
    wrong = {w: (expected, stem(w, definite_an=False)) for w, expected in SNOWBALL.items()
             if stem(w, definite_an=False) != expected}
    assert not wrong


@pytest.mark.parametrize("forms", [
    ("skolan", "skola", "skolor", "skolorna", "skolans", "skolornas"),
    ("kyrkan", "kyrka", "kyrkor", "kyrkorna"),
    ("kommunen", "kommuner", "kommunens", "kommunerna"),
    ("biblioteket", "biblioteken", "bibliotek"),
    ("beslutet", "beslut", "besluten"),
])
def test_every_form_of_a_word_has_one_stem(forms):
    assert len({stem(f) for f in forms}) == 1, {f: stem(f) for f in forms}


def test_snowballs_own_stem_is_looked_for_too():
    """'vulkan' loses -an with our addition, 'vulkaner' keeps it: a word is looked for under both stems."""
    term = parse_query("vulkan").groups[0][0]
    assert stem("vulkaner") in term.stems and stem("vulkan") in term.stems


@pytest.mark.parametrize(("typed", "says"), [
    ('"nya skolan', "unbalanced quote"),
    ("", "empty"),
    ("   ", "empty"),
    ("!!!", "no letters or digits"),
    ("sk*la", "may only end a word"),
    ("s*", "at least 2 letters"),
    ("OR skolan", "OR must stand between"),
    ("skolan OR", "OR must stand between"),
    ("skolan OR OR bibliotek", "OR must stand between"),
    ("-skolan", "not only what to leave out"),
    ('""', "no letters or digits"),
])
def test_a_malformed_search_is_refused_with_a_reason(typed, says):
    with pytest.raises(QueryError, match=says):
        parse_query(typed)


def test_nothing_typed_reaches_fts5_unquoted():
    fts = parse_query('skolan AND "NOT x" NEAR(a b) -OR* "nya skol*"').fts()
    assert "NEAR(" not in fts and '"and"' in fts and '"not" + "x"' in fts


# -- the index on its own (no servers) ------------------------------------------------------------


def doc(capture_id: str, started: dt.datetime, pdf: str, dom: str = "") -> IndexedCapture:
    account_id = capture_id.split("/")[0]
    return IndexedCapture(capture_id=capture_id, account=account_id, platform="facebook", started_at=started,
                          title="Perstorps kommun", record_key=f"captures/{capture_id}/record.json",
                          pdf_key=f"captures/{capture_id}/startpage.pdf",
                          sources=(Source(f"captures/{capture_id}/record.json", "v1", "0" * 64),),
                          pdf_text=pdf, dom_text=dom)


@pytest.fixture
def small_index(tmp_path):
    with SearchIndex(tmp_path / "search" / "index.sqlite", "bucket") as index, index.transaction():
        index.add(doc("fb/2025-03-01T090000Z-scheduled", dt.datetime(2025, 3, 1, 9, tzinfo=UTC),
                      "Välkommen till den nya skolan i Perstorp! Invigning i augusti.",
                      "Perstorps kommun – nyheter"))
        index.add(doc("fb/2025-09-15T090000Z-scheduled", dt.datetime(2025, 9, 15, 9, tzinfo=UTC),
                      "Skolorna har höstlov vecka 44. Biblioteket har nya öppettider."))
        index.add(doc("ig/2025-12-31T233000Z-manual", dt.datetime(2025, 12, 31, 23, 30, tzinfo=UTC),
                      "Skolverket besökte oss. Nya skolor byggs i Skåne.", "Ring 070-123 45 67"))
        index.add(doc("ig/2026-01-10T090000Z-manual", dt.datetime(2026, 1, 10, 9, tzinfo=UTC),
                      "Vinterns snöröjning: gatorna plogas först.", "en skola nämns bara i sidans HTML"))
    with SearchIndex(tmp_path / "search" / "index.sqlite", "bucket") as index:
        yield index


def found(index: SearchIndex, text: str, **filters) -> list[str]:
    return [h.capture_id for h in index.search(parse_query(text), **filters).hits]


def test_stemming_finds_every_form(small_index):
    assert sorted(found(small_index, "skolan")) == ["fb/2025-03-01T090000Z-scheduled",
                                                    "fb/2025-09-15T090000Z-scheduled",
                                                    "ig/2025-12-31T233000Z-manual", "ig/2026-01-10T090000Z-manual"]
    assert found(small_index, "gatan") == ["ig/2026-01-10T090000Z-manual"]
    assert found(small_index, "bibliotek") == ["fb/2025-09-15T090000Z-scheduled"]
    assert found(small_index, "skåne") == ["ig/2025-12-31T233000Z-manual"]  # å is a letter, not an a
    assert found(small_index, "skane") == []


def test_phrase_and_prefix(small_index):
    assert sorted(found(small_index, '"nya skolan"')) == ["fb/2025-03-01T090000Z-scheduled",
                                                          "ig/2025-12-31T233000Z-manual"]  # "nya skolor"
    assert found(small_index, '"skolan nya"') == []
    assert found(small_index, '"070-123 45"') == ["ig/2025-12-31T233000Z-manual"]
    assert "ig/2025-12-31T233000Z-manual" in found(small_index, "skolv*")
    assert found(small_index, "skolv*") == ["ig/2025-12-31T233000Z-manual"]  # Skolverket, not skolan
    assert len(found(small_index, "skol*")) == 4
    assert found(small_index, "skol* -skolverket -snöröjning") == ["fb/2025-03-01T090000Z-scheduled",
                                                                    "fb/2025-09-15T090000Z-scheduled"] or         sorted(found(small_index, "skol* -skolverket -snöröjning")) == ["fb/2025-03-01T090000Z-scheduled",
                                                                         "fb/2025-09-15T090000Z-scheduled"]
    assert sorted(found(small_index, "invigning OR snöröjningen")) == ["fb/2025-03-01T090000Z-scheduled",
                                                                       "ig/2026-01-10T090000Z-manual"]


def test_snippet_highlights_the_words_and_says_where(small_index):
    result = small_index.search(parse_query('"nya skolan"'), account="fb")
    hit = result.hits[0]
    assert hit.matched_in == "pdf" and hit.snippet_text() == "Välkommen till den **nya skolan** i Perstorp! "                                                               "Invigning i augusti."
    html_only = small_index.search(parse_query("skola"), account="ig", start=dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert html_only.hits[0].matched_in == "dom" and "**skola**" in html_only.hits[0].snippet_text()
    assert hit.record_key == "captures/fb/2025-03-01T090000Z-scheduled/record.json"


def test_account_and_date_filters(small_index):
    from tasks.search import day_range

    assert found(small_index, "skolan", account="ig") == ["ig/2025-12-31T233000Z-manual",
                                                          "ig/2026-01-10T090000Z-manual"] or         sorted(found(small_index, "skolan", account="ig")) == ["ig/2025-12-31T233000Z-manual",
                                                               "ig/2026-01-10T090000Z-manual"]
    start, end = day_range(dt.date(2025, 9, 15), dt.date(2025, 12, 31))
    assert sorted(found(small_index, "skolan", start=start, end=end)) == ["fb/2025-09-15T090000Z-scheduled"]
    # 2025-12-31 23:30 UTC is 2026-01-01 in Swedish time: days are Swedish days, both ends included
    start, end = day_range(dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    assert found(small_index, "skolan", start=start, end=end) == ["ig/2025-12-31T233000Z-manual"]
    assert small_index.search(parse_query("skolan"), limit=1).total == 4


def test_index_file_modes_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = tmp_path / "data" / "search" / "index.sqlite"
        with SearchIndex(path, "bucket") as index, index.transaction():
            index.add(doc("fb/2025-03-01T090000Z-scheduled", dt.datetime(2025, 3, 1, tzinfo=UTC), "skolan"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_index_of_another_stemmer_is_started_afresh(tmp_path, monkeypatch):
    path = tmp_path / "index.sqlite"
    with SearchIndex(path, "bucket") as index, index.transaction():
        index.add(doc("fb/2025-03-01T090000Z-scheduled", dt.datetime(2025, 3, 1, tzinfo=UTC), "skolan"))
        index.set_ledger_head(7)
    monkeypatch.setattr("tasks.search.index.STEMMER_VERSION", "another")
    with SearchIndex(path, "bucket") as index:
        assert index.count() == 0 and index.is_fresh


# -- against the archive (SeaweedFS) --------------------------------------------------------------


def file_text(archive, tmp_path, account_id: str, started: dt.datetime, words: str, html: str, lock=None):
    """A capture with a word file (the archival PDF's text layer) and a DOM, filed and ledgered."""
    acc = account(id=account_id, **({"retention_class": "kort"} if lock is not None else {}))
    rec, folder = capture_files(tmp_path / f"{account_id}-{started:%Y%m%d%H%M%S}", started, account=acc,
                                content=f"<html><body><p>{html}</p><script>var skolan = 1</script></body></html>"
                                .encode())
    (folder / "words-desktop.json").write_text(json.dumps(
        {"scale": 1.0, "words": [[w, 10.0, 10.0 * i, 30.0, 12.0] for i, w in enumerate(words.split())]},
        ensure_ascii=False), encoding="utf-8")
    words_file = ArchivedFile(name="words-desktop.json", role=FileRole.words, media_type="application/json",
                              size=(folder / "words-desktop.json").stat().st_size,
                              sha256=sha256_file(folder / "words-desktop.json"))
    rec = rec.model_copy(update={"files": (*rec.files, words_file)})
    return archive.file_capture(rec, folder, lock or records_lock(dt.datetime.now(UTC)))


def test_search_over_the_archive_incremental_equals_rebuilt(archive, tmp_path):
    a = file_text(archive, tmp_path, "sok-a", dt.datetime(2025, 3, 1, 9, tzinfo=UTC),
                  "Nu öppnar den nya skolan i Perstorp", "Perstorps kommun informerar om skolorna")
    b = file_text(archive, tmp_path, "sok-b", dt.datetime(2025, 10, 1, 9, tzinfo=UTC),
                  "Biblioteket har nya öppettider", "Läs mer om biblioteken")
    path = tmp_path / "data" / "search" / "index.sqlite"
    with SearchIndex(path, archive.bucket) as index:
        first = update_index(index, archive)  # a new index: everything in custody
        assert {a.capture_id, b.capture_id} <= set(first.added)
        hits = index.search(parse_query("skolor"), account="sok-a").hits
        assert [h.capture_id for h in hits] == [a.capture_id]
        assert hits[0].record_key == a.record_key and hits[0].account == "sok-a"
        assert hits[0].matched_in == "pdf" and "**skolan**" in hits[0].snippet_text()
        assert index.search(parse_query("var"), account="sok-a").total == 0  # scripts are not text

        c = file_text(archive, tmp_path, "sok-a", dt.datetime(2025, 11, 1, 9, tzinfo=UTC),
                      "Skolbussen går som vanligt", "Skolskjuts")
        again = update_index(index, archive)  # only what the ledger got since
        assert again.added == [c.capture_id] and not again.removed
        assert update_index(index, archive).added == []
        assert sorted(h.capture_id for h in index.search(parse_query("skol*"), account="sok-a").hits) ==             sorted([a.capture_id, c.capture_id])
        incremental = list(index.rows())

    other = tmp_path / "rebuilt" / "index.sqlite"
    rebuilt = rebuild_index(other, archive)
    assert rebuilt.rebuilt and c.capture_id in rebuilt.added
    with SearchIndex(other, archive.bucket) as index:
        assert list(index.rows()) == incremental
    assert stat.S_IMODE(other.stat().st_mode) == 0o600


def test_a_disposed_capture_leaves_the_index(archive, schedule_file, tmp_path, monkeypatch):
    from prefect.logging import disable_run_logger

    from tasks.disposal import dispose, find_expired

    monkeypatch.setattr("tasks.events.emit_event", lambda **event: None)  # no Prefect server for this one

    now = dt.datetime.now(UTC).replace(microsecond=0)
    kept = file_text(archive, tmp_path, "sok-gallras", now - dt.timedelta(days=400),
                     "Sommarlovet börjar och skolan stänger", "Sommarlov")
    goes = file_text(archive, tmp_path, "sok-gallras", now - dt.timedelta(days=300),
                     "Kampanj: välj skolan nära dig", "Kampanj", lock=schedule_file.get("kort").lock_for(now))
    path = tmp_path / "index.sqlite"
    with SearchIndex(path, archive.bucket) as index:
        update_index(index, archive)
        assert sorted(h.capture_id for h in index.search(parse_query("skola"), account="sok-gallras").hits) ==             sorted([kept.capture_id, goes.capture_id])
        time.sleep(SHORT_GALLRING_S + 1)  # the gallringsfrist
        with disable_run_logger():
            candidates = [c for c in find_expired.fn() if c.capture_id == goes.capture_id]
            assert candidates
            disposal = dispose.fn(candidates, "Arkivarie Test", "sökindexet")
        assert disposal.captures_disposed() == [goes.capture_id]
        update = update_index(index, archive)
        assert update.removed == [goes.capture_id]
        assert [h.capture_id for h in index.search(parse_query("skola"), account="sok-gallras").hits] ==             [kept.capture_id]
        assert index.search(parse_query("kampanj")).total == 0  # nothing of it left, not even its text
    rebuilt = rebuild_index(tmp_path / "again.sqlite", archive)
    assert goes.capture_id not in rebuilt.added and kept.capture_id in rebuilt.added


def test_the_command(archive, tmp_path):
    file_text(archive, tmp_path, "sok-cli", dt.datetime(2025, 5, 5, 9, tzinfo=UTC),
              "Föräldramöte på skolan i kväll", "Välkomna")
    index = str(tmp_path / "cli.sqlite")
    runner = CliRunner()
    result = runner.invoke(app, ["search", "skolor", "--account", "sok-cli", "--json", "--index", index])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 1 and data["hits"][0]["account"] == "sok-cli"
    assert data["hits"][0]["captured_at"].startswith("2025-05-05T09:00")
    assert data["hits"][0]["snippet"] == "Föräldramöte på **skolan** i kväll"
    assert data["hits"][0]["record_key"].endswith("/record.json")

    text = runner.invoke(app, ["search", '"på skolan"', "-a", "sok-cli", "--from", "2025-05-05", "--to",
                               "2025-05-05", "--index", index])
    assert text.exit_code == 0 and "1 hit for" in text.stdout and "[på skolan]" in text.stdout
    none = runner.invoke(app, ["search", "skolan", "-a", "sok-cli", "--from", "2025-05-06", "--index", index])
    assert none.exit_code == 0 and none.stdout.startswith("0 hits")
    long = runner.invoke(app, ["search", "skolan\u202e" + "a" * 5000, "-a", "sok-cli", "--index", index])
    assert long.exit_code == 0 and long.stdout.startswith("0 hits for skolan\\u202e")  # shown, not obeyed
    assert len(long.stdout.splitlines()[0]) < 300  # and not all of it

    for args, says in ((['"på skolan'], "unbalanced quote"), (["sk*la"], "may only end a word"),
                       (["skolan", "--from", "2025-05-06", "--to", "2025-05-01"], "before"),
                       (["skolan", "--from", "maj"], "is not a date"), ([], "say what to look for")):
        bad = runner.invoke(app, ["search", *args, "--index", index])
        assert bad.exit_code == 2, (args, bad.output)
        assert says in bad.output and "Traceback" not in bad.output and len(bad.output.strip().splitlines()) == 1

    broken = tmp_path / "broken.sqlite"  # a damaged index: the header, then garbage
    broken.write_bytes(b"SQLite format 3\x00" + b"this is not a database" * 100)
    bad = runner.invoke(app, ["search", "skolan", "--index", str(broken)])
    assert bad.exit_code == 7 and "--reindex" in bad.output and len(bad.output.strip().splitlines()) == 1
    rebuilt = runner.invoke(app, ["search", "skolan", "-a", "sok-cli", "--reindex", "--index", str(broken)])
    assert rebuilt.exit_code == 0 and "1 hit for" in rebuilt.stdout


def test_only_an_index_is_ever_changed_or_replaced(tmp_path):
    """--index names a file somearkiv may rebuild at will; pointed at anything else (a document, another
    program's database, a device, a directory) it leaves it exactly as it was."""
    import os
    import sqlite3

    from tasks.search.index import NotAnIndex, check_index_path

    notes = tmp_path / "notes.txt"
    notes.write_text("minnesanteckningar\n" * 100, encoding="utf-8")
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount INTEGER)")
        db.execute("INSERT INTO invoices VALUES (1, 500)")
    db.close()
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "link.sqlite"
    link.symlink_to(notes)
    for path in (notes, foreign, fifo, tmp_path, link, Path("/dev/null")):  # the guard's decision, /dev/null untouched
        with pytest.raises(NotAnIndex):
            check_index_path(path)
    before = {p: p.read_bytes() for p in (notes, foreign)}
    runner = CliRunner()
    for path in (notes, foreign, fifo, tmp_path, link):
        for extra in ([], ["--reindex"]):
            result = runner.invoke(app, ["search", "skolan", *extra, "--index", str(path)])
            assert result.exit_code == 7 and "not a somearkiv search index: left as it is" in result.output, \
                (path, extra, result.output)
    assert {p: p.read_bytes() for p in (notes, foreign)} == before and fifo.is_fifo() and link.is_symlink()
    check_index_path(tmp_path / "new.sqlite")  # a free path, an empty file and a damaged SQLite file are fine
    (tmp_path / "empty.sqlite").touch()
    check_index_path(tmp_path / "empty.sqlite")


def test_the_results_artifact_and_the_run_form(small_index):
    from deployments.definitions import SERVE_SUFFIX, served_deployments
    from flows.search import search_archive as search_flow
    from somearkiv.settings import get_settings
    from tasks.search.run import results_markdown

    result = small_index.search(parse_query("skolan"), limit=2)
    links = {h.capture_id: {"pdf": f"http://s3.test/{h.pdf_key}?sig", "record": f"http://s3.test/{h.record_key}?sig"}
             for h in result.hits}
    text = results_markdown(result, links, ", från / from 2025-01-01", 168)
    assert "**4** träffar / hits, från / from 2025-01-01 – de 2 bästa visas" in text
    for hit in result.hits:
        assert f"[PDF/A](http://s3.test/{hit.pdf_key}?sig)" in text and f"`{hit.record_key}`" in text
    assert "**skolan**" in text or "**Skolorna**" in text

    [deployment] = [d for d in served_deployments(get_settings()) if d.name == "search-archive" + SERVE_SUFFIX]
    properties = deployment._parameter_openapi_schema.properties
    assert [properties[p]["title"] for p in ("query", "account", "start", "end")] == \
        ["Sök / Search", "Konto / Account", "Från / From", "Till / To"]
    refused = search_flow.fn('"nya skolan')  # read before anything is searched: a clear failed run
    assert refused.is_failed() and "unbalanced quote" in refused.message
