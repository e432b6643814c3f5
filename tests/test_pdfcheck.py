"""Our PDF/A-2b validator: good files pass cleanly, each known-bad file is rejected under its exact rule id.

The bad files are made from a good one (tasks.pdfa.make_archival_pdf) by mutating bytes, or by
re-saving with pikepdf after a change to the objects.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import warnings
import zlib
from importlib import resources

import pikepdf
import pikepdf.pdfa
import pytest
from PIL import Image, ImageDraw

from tasks.pdfa import make_archival_pdf
from tasks.pdfcheck import CHECKS, RULES, CheckReport, Finding, PdfFile, check_pdf, format_report

from .factories import record

# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> bytes:
    """A PDF/A-2b exactly as the archive makes it (xref stream, object streams)."""
    folder = tmp_path_factory.mktemp("pdfcheck")
    image = Image.new("RGB", (240, 360), "white")
    ImageDraw.Draw(image).rectangle([20, 30, 200, 300], fill=(200, 40, 90))
    image.save(folder / "startpage.png")
    make_archival_pdf(folder / "startpage.png", folder / "startpage.pdf", record())
    return (folder / "startpage.pdf").read_bytes()


@pytest.fixture(scope="module")
def classic(ours: bytes) -> bytes:
    """The same document with a classic xref table and no object streams."""
    data = resave(ours, object_stream_mode=pikepdf.ObjectStreamMode.disable)
    assert b"\nxref\n" in data and b"/ObjStm" not in data and b"/XRef" not in data
    return data


@pytest.fixture(params=["ours", "classic"])
def good(request) -> bytes:
    return request.getfixturevalue(request.param)


def resave(data: bytes, mutate=lambda pdf: None, **save_kwargs) -> bytes:
    with pikepdf.open(io.BytesIO(data)) as pdf:
        mutate(pdf)
        out = io.BytesIO()
        pdf.save(out, deterministic_id="encryption" not in save_kwargs, **save_kwargs)
    return out.getvalue()


def replace_once(data: bytes, old: bytes, new: bytes) -> bytes:
    assert data.count(old) == 1, f"{old!r} occurs {data.count(old)} times"
    return data.replace(old, new)


def sub_once(data: bytes, pattern: bytes, replace) -> bytes:
    result, count = re.subn(pattern, replace, data, count=1)
    assert count == 1, f"{pattern!r} not found"
    return result


def rejected(data: bytes, rule: str, source: str = "bytes", flavour: str = "2b") -> CheckReport:
    """Assert the file fails and *source* reported *rule*; return the report."""
    report = check_pdf(data, flavour)
    assert not report.passed
    found = {f.rule for f in report.findings if f.source == source}
    assert rule in found, format_report(report)
    assert all(f.rule in RULES for f in report.findings if f.source == "bytes"), format_report(report)
    assert "somearkiv:internal" not in report.rules, format_report(report)
    return report


def metadata_length(data: bytes) -> int:
    return int(re.search(rb"/Type /Metadata /Length (\d+)", data)[1])


# -- good files -----------------------------------------------------------------------------------


def test_our_archival_pdf_passes_with_no_findings(ours):
    report = check_pdf(ours)
    assert report.passed and report.findings == [] and report.verdict == "valid", format_report(report)
    assert report.claimed == "PDF/A-2B" and report.flavour == "2b"
    assert report.size == len(ours) and len(report.sha256) == 64
    assert "PASSED" in format_report(report)


def test_classic_xref_variant_passes_with_no_findings(classic):
    report = check_pdf(classic)
    assert report.passed and report.findings == [], format_report(report)
    assert report.claimed == "PDF/A-2B"


def test_the_reader_sees_every_object_and_stream(ours, classic):
    """The byte checks are only worth something if they actually read the objects."""
    for data in (ours, classic):
        pdf = PdfFile(data)
        with pikepdf.open(io.BytesIO(data)) as reference:
            listed = {o.objgen[0] for o in reference.objects if o.objgen != (0, 0)}
            assert {ref.num for ref in pdf.objects} >= listed
        assert not pdf.reconstructed and not pdf.object_problems and not pdf.misplaced_entries
        streams = [o for o in pdf.objects.values() if o.stream]
        assert len(streams) >= 4 and all(o.stream.real_length == o.stream.declared for o in streams)
    assert any(o.in_object_stream for o in PdfFile(ours).objects.values())


def test_path_str_and_bytes_give_the_same_report(ours, tmp_path):
    path = tmp_path / "a.pdf"
    path.write_bytes(ours)
    reports = [check_pdf(x) for x in (path, str(path), ours, bytearray(ours), memoryview(ours))]
    assert all(r == reports[0] for r in reports)


# -- file structure: one known-bad file per rule ---------------------------------------------------


@pytest.mark.parametrize("mutate", [
    lambda d: b"%PDF-1.9" + d[8:],  # version outside 1.0-1.7
    lambda d: b"   " + d,  # header not at byte 0
    lambda d: b"%PDF-1.5 " + d[9:],  # header not followed by an EOL
], ids=["version", "offset", "no-eol"])
def test_bad_header_is_6_1_2_1(ours, mutate):
    rejected(mutate(ours), "6.1.2-1")


def test_missing_binary_comment_is_6_1_2_2(good):
    assert good[9:10] == b"%" and all(b > 127 for b in good[10:14])
    rejected(good[:10] + b"abcd" + good[14:], "6.1.2-2")


def test_missing_trailer_id_is_6_1_3_1(good):
    data = sub_once(good, rb"/ID \[<[0-9a-f]+><[0-9a-f]+>\]", lambda m: b" " * len(m[0]))
    rejected(data, "6.1.3-1")


@pytest.mark.parametrize("user", ["", "secret"], ids=["owner-password", "user-password"])
def test_encrypted_file_is_6_1_3_2(ours, user):
    data = resave(ours, encryption=pikepdf.Encryption(owner="owner", user=user))
    report = rejected(data, "6.1.3-2")
    if user:  # pikepdf cannot open it at all; the byte check still names the reason
        assert report.claimed is None


@pytest.mark.parametrize("tail", [b"trailing garbage\n", b"\n", b"\x00"])
def test_data_after_eof_is_6_1_3_3(good, tail):
    assert good.endswith(b"%%EOF\n")
    rejected(good + tail, "6.1.3-3")


def test_xref_keyword_without_single_eol_is_6_1_4_2(classic):
    rejected(replace_once(classic, b"\nxref\n", b"\nxref \n"), "6.1.4-2")


@pytest.mark.parametrize("mutate", [
    lambda m: b"\n" + str(int(m[1])).encode() + b" 0 n\n",  # not 20 bytes
    lambda m: b"\n" + m[1] + b" " + m[2] + b" n\n\n",  # one-byte EOL without the space
], ids=["short-entry", "bad-eol"])
def test_malformed_xref_entry_is_reported(classic, mutate):
    rejected(sub_once(classic, rb"\n(\d{10}) (\d{5}) n \n", mutate), "ISO_32000_1:7.5.4")


def test_xref_subsection_header_spacing_is_reported(classic):
    rejected(sub_once(classic, rb"\nxref\n0 (\d+)\n", lambda m: b"\nxref\n0  " + m[1] + b"\n"), "ISO_32000_1:7.5.4")


@pytest.mark.parametrize(("old", "new"), [
    (b"\n0000000000 65535 f \n", b"\n0000000000 65534 f \n"),  # object 0 heads the free list, generation 65535
    (b"\n0000000000 65535 f \n", b"\n0000000003 65535 f \n"),  # points at an object that is in use
])
def test_broken_free_list_is_reported(classic, old, new):
    rejected(replace_once(classic, old, new), "ISO_32000_1:7.5.4")


def test_too_small_trailer_size_is_reported(good):
    size = int(re.search(rb"/Size (\d+)", good)[1])
    data = replace_once(good, b"/Size %d " % size, b"/Size %d " % (size - 1))
    is_xref_stream = b"/Type /XRef" in good
    # an xref stream without /Index lists /Size entries, so a smaller /Size leaves entries unlisted (7.5.8)
    rejected(data, "ISO_32000_1:7.5.8" if is_xref_stream else "ISO_32000_1:7.5.5")


def test_too_large_trailer_size_is_accepted(classic):
    """Readers and veraPDF accept it, and valid files in the veraPDF corpus have it."""
    size = int(re.search(rb"/Size (\d+)", classic)[1])
    assert byte_findings(replace_once(classic, b"/Size %d " % size, b"/Size %d " % (size + 1))) == set()


def test_xref_entry_pointing_at_the_wrong_place_is_reported(classic):
    data = sub_once(classic, rb"\n(\d{10}) 00000 n \r?\n", lambda m: b"\n%010d 00000 n \n" % (int(m[1]) + 1))
    rejected(data, "ISO_32000_1:7.5.4")


def test_startxref_not_pointing_at_xref_data_is_reported_and_objects_still_checked(good):
    data = sub_once(good, rb"startxref\n(\d+)", lambda m: b"startxref\n" + b"%d" % (int(m[1]) - 7))
    report = rejected(data, "ISO_32000_1:7.5.5")
    assert PdfFile(data).reconstructed
    broken = sub_once(data, rb"(/Type /Metadata /Length )(\d+)", lambda m: m[1] + b"%d" % (int(m[2]) + 1))
    rejected(broken, "6.1.7.1-1")  # found by scanning the file, though the xref is unusable
    assert "6.1.7.1-1" not in report.rules


@pytest.mark.parametrize("after", [b"\r", b" "], ids=["cr-only", "space"])
def test_stream_keyword_not_followed_by_crlf_or_lf_is_6_1_7_1_2(good, after):
    data = sub_once(good, rb"(/Type /Metadata /Length \d+ >>\nstream)\n", lambda m: m[1] + after)
    rejected(data, "6.1.7.1-2")


def test_endstream_without_eol_is_6_1_7_1_2(good):
    rejected(replace_once(good, b'<?xpacket end="w"?>\n\nendstream', b'<?xpacket end="w"?>\n endstream'), "6.1.7.1-2")


@pytest.mark.parametrize("delta", [-1, 1, 100])
def test_wrong_stream_length_is_6_1_7_1_1(good, delta):
    length = metadata_length(good)
    data = replace_once(good, b"/Length %d >>\nstream" % length, b"/Length %d >>\nstream" % (length + delta))
    report = rejected(data, "6.1.7.1-1")
    assert any(f"/Length is {length + delta}, but {length} bytes" in f.message for f in report.findings)


@pytest.mark.parametrize(("old", "new"), [
    (b"\n1 0 obj\n<<", b"\n1 0 obj <<"),  # 'obj' not followed by an EOL
    (b">>\nendobj\n2 0 obj", b">> endobj\n2 0 obj"),  # 'endobj' not preceded by an EOL
    (b"\nendobj\n2 0 obj", b"\nendobj 2 0 obj"),  # 'endobj' not followed, next number not preceded by an EOL
])
def test_object_keyword_spacing_is_6_1_9_1(classic, old, new):
    rejected(replace_once(classic, old, new), "6.1.9-1")


def test_missing_endobj_is_reported(classic):
    rejected(replace_once(classic, b">>\nendobj\n2 0 obj", b">>\nendobX\n2 0 obj"), "ISO_32000_1:7.3.10")


@pytest.mark.parametrize("where", [0.3, 0.6, 0.9])
def test_damaged_image_data_is_reported(ours, where):
    """A flipped bit in the compressed image passes pikepdf (it does not decode images)."""
    start = re.search(rb"/Subtype /Image[^>]*>>\nstream\n", ours).end()
    at = start + int(image_length(ours) * where)
    damaged = ours[:at] + bytes([ours[at] ^ 0x10]) + ours[at + 1:]
    assert pikepdf.pdfa.validate_written(io.BytesIO(damaged), "2b").passed
    rejected(damaged, "ISO_32000_1:7.4.4")


def _run_length(data: bytes) -> bytes:
    """RunLength-encode: repeats of 3+ as runs, the rest as literal runs of up to 128 bytes; then EOD."""
    out, at = bytearray(), 0
    while at < len(data):
        same = 1
        while at + same < len(data) and same < 128 and data[at + same] == data[at]:
            same += 1
        if same >= 3:
            out += bytes([257 - same, data[at]])
            at += same
        else:
            literal = data[at:at + 128]
            out += bytes([len(literal) - 1]) + literal
            at += len(literal)
    return bytes(out) + b"\x80"


CHAINS = {  # a chain of filters and how to encode for it (the last filter is applied first)
    "flate": (["/FlateDecode"], lambda d: zlib.compress(d, 9)),
    "flate twice": (["/FlateDecode", "/Fl"], lambda d: zlib.compress(zlib.compress(d, 9), 9)),
    "run length": (["/RunLengthDecode"], _run_length),
    "hex, run length": (["/AHx", "/RL"], lambda d: _run_length(d).hex().encode() + b">"),
    "ascii85, flate": (["/ASCII85Decode", "/FlateDecode"],
                       lambda d: b"<~" + base64.a85encode(zlib.compress(d), wrapcol=75, adobe=False) + b"~>"),
}
PLAIN = bytes(range(256)) * 40 + bytes(300_000) + b"q 1 0 0 1 0 0 cm Q\n" * 900


@pytest.mark.parametrize("chain", CHAINS)
@pytest.mark.parametrize("piece", [1, 7, 1 << 18])
def test_a_streams_filters_are_undone_whole_in_small_pieces(monkeypatch, chain, piece):
    """However small the pieces read and made, a sound stream decodes through its chain of filters to
    its end, a cut one is found in the filter whose data ends early, and counting stops past a limit."""
    from tasks.pdfcheck import decoding

    monkeypatch.setattr(decoding, "PIECE_OUT", piece)
    monkeypatch.setattr(decoding, "PIECE_IN", max(piece, 5))
    filters, encode = CHAINS[chain]
    packed = encode(PLAIN)
    assert decoding.decode(packed, filters) == decoding.Decoded(len(PLAIN))
    cut = decoding.decode(packed[:len(packed) // 2], filters)  # (ASCIIHex and ASCII85 without their end
    assert cut.damaged_in in decoding.filters_of(filters) and "ends" in cut.damage  # are read on)
    assert len(PLAIN) > decoding.decode(packed, filters, stop_after=20_000).size > 20_000


@pytest.mark.parametrize(("filters", "data", "damaged_in", "says"), [
    (["/FlateDecode"], zlib.compress(b"abc" * 999)[:2] + b"\xff" * 40, "/FlateDecode", "invalid"),
    (["/FlateDecode", "/FlateDecode"], zlib.compress(zlib.compress(b"abc" * 9999)[:-9]), "/FlateDecode", "ends"),
    (["/ASCIIHexDecode"], b"41 42 4G>", "/ASCIIHexDecode", "hexadecimal"),
    (["/ASCII85Decode"], b"87cURD]i,\"Ebo80~>", None, None),
    (["/ASCII85Decode"], b"87cU{D]i~>", "/ASCII85Decode", "Non-Ascii85"),
    (["/ASCII85Decode", "/RunLengthDecode"], base64.a85encode(b"\x05abc") + b"~>", "/RunLengthDecode", "run"),
    (["/LZWDecode"], b"\x80\x0b\x60\x50", None, None),  # not decoded here (pikepdf reports LZW in PDF/A)
    (["/ASCII85Decode"], b"!!z!!!~>", "/ASCII85Decode", "'z' inside a group"),  # qpdf: "unexpected z"
    (["/ASCII85Decode"], b"z!!!!!z~>", None, None),  # between groups it is four zeros
    (["/ASCII85Decode"], b"87cUR~x", "/ASCII85Decode", "not followed by '>'"),
    (["/ASCII85Decode"], b"87cUR\x0bDZ~>", "/ASCII85Decode", "Non-Ascii85"),  # not PDF white-space
    (["/ASCIIHexDecode"], b"414", None, None),  # without its '>', read to its end as qpdf reads it
    (["/RunLengthDecode"], b"\x02abc\xfex", None, None),  # whole runs without the end-of-data byte: the same
    (["/FlateDecode", "/DCTDecode"], b"", None, None),  # an empty stream: nothing to be damaged
])
def test_each_filters_damage_is_named_and_undecodable_filters_are_left_alone(filters, data, damaged_in, says):
    """And what qpdf reads without complaint is not called damaged."""
    from tasks.pdfcheck import decoding

    found = decoding.decode(data, filters)
    assert found.damaged_in == damaged_in
    assert (says or "") in (found.damage or "")
    assert found.not_decoded == (("/LZWDecode",) if filters == ["/LZWDecode"] else ())


def test_a_filter_named_through_a_reference_is_followed():
    """'/Filter 3 0 R' (or a reference inside the array) is the filter that object names."""
    cut = zlib.compress(b"q Q\n" * 5000)[:-30]
    for filters in (b"3 0 R", b"[3 0 R]"):
        data = handmade(b"<< /Type /Catalog >>", b"<< /Length %d /Filter %s >>\nstream\n" % (len(cut), filters)
                        + cut + b"\nendstream", b"/FlateDecode")
        assert "ISO_32000_1:7.4.4" in byte_findings(data), filters


def test_ascii85_is_read_whole_however_its_start_and_end_fall_in_the_pieces(monkeypatch):
    from tasks.pdfcheck import decoding

    for piece in (1, 2, 3, 1 << 20):
        monkeypatch.setattr(decoding, "PIECE_IN", piece)
        assert decoding.decode(b"  <~@K~>", ["/ASCII85Decode"]) == decoding.Decoded(1)
        assert decoding.decode(b"87cUR~", ["/ASCII85Decode"]).damaged_in == "/ASCII85Decode"
    monkeypatch.setattr(decoding, "PIECE_IN", 1 << 20)
    made = [len(p) for p in decoding._chain(b"z" * 300_000 + b"~>", ["/ASCII85Decode"])]  # 1.2 MB of zeros
    assert sum(made) == 1_200_000 and max(made) <= decoding.PIECE_OUT  # in pieces, not at once


def _with_image_data(ours: bytes, raw: bytes, filters: list[str]) -> bytes:
    """Our PDF with its image's data replaced by *raw*, encoded with *filters* (no predictor)."""
    def mutate(pdf):
        image = next(iter(pdf.pages[0].images.values()))
        image.write(raw, filter=[pikepdf.Name(name) for name in filters])
        if "/DecodeParms" in image:
            del image.DecodeParms
    return resave(ours, mutate, compress_streams=False)  # else qpdf decodes and re-encodes it


def _image_pixels(ours: bytes) -> bytes:
    with pikepdf.open(io.BytesIO(ours)) as pdf:
        return next(iter(pdf.pages[0].images.values())).read_bytes()


def _jpeg(ours: bytes) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (240, 360), _image_pixels(ours)).save(out, "JPEG", quality=80, progressive=True)
    return out.getvalue()


@pytest.mark.parametrize(("case", "rule"), [
    ("flate twice, inner data damaged", "ISO_32000_1:7.4.4"),
    ("run length, cut inside a run", "ISO_32000_1:7.4.5"),
    ("jpeg, cut off", "ISO_32000_1:7.4.8"),
    ("flate over jpeg, jpeg cut off", "ISO_32000_1:7.4.8"),
    ("jpeg, markers broken", "ISO_32000_1:7.4.8"),
])
def test_damaged_image_data_behind_any_chain_of_filters_is_reported(ours, case, rule):
    """pikepdf passes all of these: it decodes no image data. The same image, sound, gives no finding."""
    pixels, jpeg = _image_pixels(ours), _jpeg(ours)
    filters, sound, damaged = {
        "flate twice, inner data damaged": (["/FlateDecode", "/FlateDecode"], zlib.compress(zlib.compress(pixels)),
                                            zlib.compress(zlib.compress(pixels)[:-4] + bytes(4))),  # checksum
        "run length, cut inside a run": (["/RunLengthDecode"], _run_length(pixels), _run_length(pixels)[:-2]),
        "jpeg, cut off": (["/DCTDecode"], jpeg, jpeg[:len(jpeg) * 3 // 5]),
        "flate over jpeg, jpeg cut off": (["/FlateDecode", "/DCTDecode"], zlib.compress(jpeg),
                                          zlib.compress(jpeg[:len(jpeg) // 2])),
        "jpeg, markers broken": (["/DCTDecode"], jpeg, jpeg[:2] + b"\x00" * 30 + jpeg[32:]),
    }[case]
    bad = _with_image_data(ours, damaged, filters)
    assert pikepdf.pdfa.validate_written(io.BytesIO(bad), "2b").passed
    report = rejected(bad, rule)
    assert [f.where for f in report.findings if f.rule == rule][0].startswith("obj ")
    assert check_pdf(_with_image_data(ours, sound, filters)).passed


def test_a_jpeg_too_large_to_decode_safely_is_left_undecoded_without_a_warning(ours, recwarn):
    """A JPEG's header can claim 60 000 × 60 000 pixels in a few KB (a progressive one needs 2 bytes a
    pixel and component to decode): such a JPEG is not decoded, so neither passed nor failed by this check."""
    from tasks.pdfcheck import decoding

    jpeg = _jpeg(ours)
    recwarn.clear()
    assert decoding._jpeg_frame(jpeg) == (240 * 360, 3, True)
    frame = jpeg.index(b"\xff\xc2")  # progressive
    huge = jpeg[:frame + 5] + (60_000).to_bytes(2, "big") * 2 + jpeg[frame + 9:]
    assert decoding.decode(huge, ["/DCTDecode"]) == decoding.Decoded(len(huge), not_decoded=("/DCTDecode",))
    no_frame = decoding.decode(huge[:frame], ["/DCTDecode"])  # no frame at all: not a JPEG, and said without an address
    assert no_frame.damaged_in == "/DCTDecode" and " at 0x" not in no_frame.damage, no_frame
    assert not recwarn.list


def image_length(data: bytes) -> int:
    return int(re.search(rb"/Subtype /Image[^>]*/Length (\d+)", data)[1])


@pytest.mark.parametrize(("old", "new"), [
    (b"\n%%EOF\n", b" %%EOF\n"),
    (b"startxref\n", b"startxref "),
])
def test_file_tail_not_on_lines_of_its_own_is_reported(good, old, new):
    rejected(replace_once(good, old, new), "ISO_32000_1:7.5.5")


def test_wrong_length_of_a_binary_stream_is_6_1_7_1_1(ours):
    data = sub_once(ours, rb"(/Type /ObjStm /Length )(\d+)", lambda m: m[1] + b"%d" % (int(m[2]) - 3))
    rejected(data, "6.1.7.1-1")


def handmade(*bodies: bytes, trailer: bytes = b"/Root 1 0 R") -> bytes:
    """A classic-xref PDF from object bodies (object n is bodies[n - 1]), with correct offsets."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(bodies, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(bodies) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d %s /ID [<01><01>] >>\nstartxref\n%d\n%%%%EOF\n" % (len(bodies) + 1, trailer, xref)
    return bytes(out)


def byte_findings(data: bytes) -> set[str]:
    """Rules the file-structure checks report (the document-level ones are not at stake here)."""
    report = check_pdf(data)
    return {f.rule for f in report.findings if f.source == "bytes" and f.rule.startswith(("6.1.", "ISO_32000"))}


@pytest.mark.parametrize(("length", "expected"), [(b"4", set()), (b"5", {"6.1.7.1-1"})])
def test_indirect_stream_length_is_resolved(length, expected):
    data = handmade(b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>",
                    b"<< /Length 4 0 R >>\nstream\nq Q \nendstream", length)
    assert byte_findings(data) == expected
    assert PdfFile(data).objects[(3, 0)].stream.declared == int(length)


def test_incremental_update_is_followed_through_prev(classic):
    old_xref = int(re.search(rb"startxref\n(\d+)", classic)[1])
    ids = re.search(rb"/ID \[<[0-9a-f]+><[0-9a-f]+>\]", classic)[0]
    update = bytearray(classic)
    obj_at = len(update)
    update += b"10 0 obj\n<< /Producer (update) >>\nendobj\n"
    xref_at = len(update)
    update += b"xref\n0 1\n0000000000 65535 f \n10 1\n%010d 00000 n \n" % obj_at
    update += b"trailer\n<< /Size 11 /Root 1 0 R /Prev %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (old_xref, ids, xref_at)
    pdf = PdfFile(bytes(update))
    assert [s.offset for s in pdf.sections] == [xref_at, old_xref] and (10, 0) in pdf.objects
    assert byte_findings(bytes(update)) == set()
    broken = bytes(update).replace(b"/Prev %d" % old_xref, b"/Prev %d" % (old_xref + 2))
    assert PdfFile(broken).broken_links == [("/Prev", old_xref + 2)]
    rejected(broken, "ISO_32000_1:7.5.5")


# -- document rules, re-checked independently of pikepdf -------------------------------------------


def test_missing_output_intent_is_rejected_by_both(ours):
    data = resave(ours, lambda pdf: pdf.Root.__delattr__("OutputIntents"))
    rejected(data, "6.2.4.3-2", "bytes")
    rejected(data, "6.2.4.3-2", "pikepdf")


def test_output_intent_without_profile_is_6_2_3_1(ours):
    data = resave(ours, lambda pdf: pdf.Root.OutputIntents[0].__delattr__("DestOutputProfile"))
    rejected(data, "6.2.3-1")
    rejected(data, "6.2.4.3-2")


def test_missing_xmp_is_6_6_2_1_1(good):
    report = rejected(resave(good, lambda pdf: pdf.Root.__delattr__("Metadata")), "6.6.2.1-1")
    assert report.claimed is None
    assert "6.6.2.1-1" in {f.rule for f in report.findings if f.source == "pikepdf"}


def _set_xmp(**values):
    def mutate(pdf):
        with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
            for key, value in values.items():
                if value is None:
                    del meta[key]
                else:
                    meta[key] = value
    return mutate


def test_xmp_without_pdfa_identification_is_6_6_4_1(ours):
    data = resave(ours, _set_xmp(**{"pdfaid:part": None, "pdfaid:conformance": None}))
    assert rejected(data, "6.6.4-1").claimed is None


def test_xmp_claiming_another_part_is_6_6_4_2(ours):
    report = rejected(resave(ours, _set_xmp(**{"pdfaid:part": "1"})), "6.6.4-2")
    assert report.claimed == "PDF/A-1B"
    rejected(ours, "6.6.4-2", flavour="3b")  # ours claims part 2


def test_malformed_xmp_is_6_6_2_1_4(classic):
    data = replace_once(classic, b"</x:xmpmeta>", b"</x:xmpmetX>")
    rejected(data, "6.6.2.1-4")


def _js(**keys):
    return pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert('x')"), **keys)


@pytest.mark.parametrize(("mutate", "rule"), [
    (lambda pdf: setattr(pdf.Root, "OpenAction", _js()), "6.5.1-1"),
    (lambda pdf: setattr(pdf.Root, "Names", pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("x"), pdf.make_indirect(_js())])))),
     "6.5.1-1"),
    (lambda pdf: setattr(pdf.Root, "AA", pikepdf.Dictionary(WC=_js())), "6.5.2-1"),
    (lambda pdf: setattr(pdf.pages[0].obj, "AA", pikepdf.Dictionary(O=_js())), "6.5.2-2"),
    (lambda pdf: setattr(pdf.Root, "OpenAction", pikepdf.Dictionary(
        S=pikepdf.Name.Launch, F=pikepdf.String("calc.exe"))), "6.5.1-1"),
], ids=["open-action", "names-tree", "catalog-aa", "page-aa", "launch"])
def test_javascript_and_forbidden_actions_are_rejected(good, mutate, rule):
    rejected(resave(good, mutate), rule)  # in object streams for ours, plain objects for classic


def test_javascript_open_action_is_a_violation_not_just_unsupported(ours):
    """pikepdf only says it does not support /OpenAction; the byte check names the rule."""
    report = rejected(resave(ours, lambda pdf: setattr(pdf.Root, "OpenAction", _js())), "6.5.1-1")
    assert any(f.kind == "violation" and f.source == "bytes" for f in report.findings)


# -- tolerance: a garbled file gives findings, never a traceback -----------------------------------


def _garbled(ours: bytes, classic: bytes) -> dict[str, bytes]:
    xref = ours.rfind(b"/Type /XRef")
    return {
        "empty": b"",
        "text": b"this is not a pdf at all",
        "header-only": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        "half": ours[: len(ours) // 2],
        "no-tail": classic[:-40],
        "xref-stream-zeroed": ours[:xref] + b"\0" * (len(ours) - xref),
        "trailer-cut": classic[: classic.rfind(b"trailer") + 12] + b"\nstartxref\n0\n%%EOF\n",
        "deep-nesting": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n" + b"[" * 100_000 + b"\nendobj\n%%EOF\n",
        "objstm-corrupt": re.sub(rb"(/Type /ObjStm[^>]*>>\nstream\n)(.{20})", lambda m: m[1] + b"\xff" * 20,
                                 ours, count=1, flags=re.S),
        "random": random.Random(7).randbytes(5000),
        "loop": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Length 1 0 R >>\nstream\nx\nendstream\nendobj\n"
                b"xref\n0 2\n0000000000 65535 f \n0000000015 00000 n \ntrailer << /Size 2 /Prev 55 /Root 1 0 R >>\n"
                b"startxref\n55\n%%EOF\n",
    }


@pytest.mark.parametrize("name", ["empty", "text", "header-only", "half", "no-tail", "xref-stream-zeroed",
                                  "trailer-cut", "deep-nesting", "objstm-corrupt", "random", "loop"])
def test_garbled_files_give_findings_not_tracebacks(ours, classic, name):
    report = check_pdf(_garbled(ours, classic)[name])
    assert not report.passed and report.findings
    assert "somearkiv:internal" not in report.rules, format_report(report)
    json.loads(report.to_json())


def test_flipped_and_truncated_bytes_never_raise(ours, classic):
    rng = random.Random(2026)
    for data in (ours, classic):
        for at in sorted(rng.sample(range(len(data)), 40)):
            flipped = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]
            report = check_pdf(flipped)
            assert "somearkiv:internal" not in report.rules, (at, format_report(report))
        for cut in sorted(rng.sample(range(len(data)), 15)):
            report = check_pdf(data[:cut])
            assert not report.passed and "somearkiv:internal" not in report.rules, (cut, format_report(report))


def test_a_failing_check_becomes_a_finding(ours):
    def check_explodes(pdf):
        raise RuntimeError("boom")
        yield  # pragma: no cover

    report = check_pdf(ours, checks=(*CHECKS, check_explodes))
    assert not report.passed and report.verdict == "not checked"
    assert report.findings == [Finding("somearkiv:internal", "check_explodes", "RuntimeError: boom", "bytes",
                                       "unsupported")]


# -- the report and the rule ids ---------------------------------------------------------------------


def test_report_serialises_and_reads_well(ours):
    report = rejected(ours + b"junk", "6.1.3-3")
    as_dict = json.loads(report.to_json())
    assert as_dict["passed"] is False and as_dict["claimed"] == "PDF/A-2B" and as_dict["flavour"] == "2b"
    assert as_dict["findings"][0] == {"rule": "6.1.3-3", "where": f"byte {len(ours) - 1}",
                                      "message": "5 byte(s) follow the last %%EOF marker: b'\\njunk'",
                                      "source": "bytes", "kind": "violation"}
    assert report.as_dict() == as_dict and json.loads(report.findings[0].to_json()) == as_dict["findings"][0]
    text = format_report(report)
    assert "FAILED (1 violation(s), 0 point(s) not checked)" in text and "6.1.3-3" in text and RULES["6.1.3-3"] in text
    assert as_dict["verdict"] == "invalid"
    assert report.sha256 in text


def test_every_rule_id_is_verapdfs_numbering_for_pdfa_2_and_3():
    text = resources.files("pikepdf.pdfa").joinpath("data/verapdf_rules.json").read_text(encoding="utf-8")
    catalogue = json.loads(text)["rules"]
    verapdf = [rule for rule in RULES if not rule.startswith(("ISO_32000_1:", "somearkiv:"))]
    assert len(verapdf) == 49
    for rule in verapdf:
        assert f"ISO_19005_2:{rule}" in catalogue and f"ISO_19005_3:{rule}" in catalogue, rule


def test_unsupported_flavours_are_refused(ours):
    with pytest.raises(ValueError):
        check_pdf(ours, "2x")
    with pytest.raises(ValueError, match="2b"):
        check_pdf(ours, "1b")


def _unparsable_first_page(pdf) -> None:
    """End the first page's content with a stray ')': qpdf warns "Unexpected end of stream"."""
    page = pdf.pages[0]
    contents = page.obj.Contents
    parts = [contents] if isinstance(contents, pikepdf.Stream) else list(contents)
    page.obj.Contents = pikepdf.Stream(pdf, b"".join(bytes(c.read_bytes()) for c in parts) + b"\nq 1 0 0 1 0 0 cm Q )")


def _warning_inside_parses(monkeypatch, *, from_another_thread: bool) -> list[str]:
    """Raise a stray warning inside pikepdf's validator's content parses: from another thread inside
    every parse (a ResourceWarning and a UserWarning; the parse waits for them), or from the parsing
    thread itself inside the first parse only. Returns a list that grows with each time it warned."""
    import threading

    import pikepdf.pdfa._content as content

    real = content.content_checker
    warned: list[str] = []

    def elsewhere():
        warnings.warn("Unclosed file <tempfile.SpooledTemporaryFile>", ResourceWarning, stacklevel=1)
        if from_another_thread:
            warnings.warn("a library's notice", UserWarning, stacklevel=1)
        warned.append(threading.current_thread().name)

    class Interrupted:
        def __init__(self, checker):
            self._checker = checker

        def check(self, stream):
            if from_another_thread:
                other = threading.Thread(target=elsewhere, name="elsewhere")
                other.start()
                other.join()
            elif not warned:
                elsewhere()
            return self._checker.check(stream)

    monkeypatch.setattr(content, "content_checker", lambda limits: Interrupted(real(limits)))
    return warned


def test_a_stray_warning_in_the_parsing_thread_is_confirmed_before_it_fails_a_file(ours, tmp_path, monkeypatch):
    """A content-parse finding is confirmed by validating once more (the same bytes): a warning that
    comes once, even from the parsing thread itself, does not fail a good file."""
    stray = _warning_inside_parses(monkeypatch, from_another_thread=False)
    report = check_pdf(ours)
    assert stray and report.passed, format_report(report)
    stray.clear()
    image = Image.new("RGB", (120, 200), "white")
    image.save(tmp_path / "startpage.png")
    info = make_archival_pdf(tmp_path / "startpage.png", tmp_path / "startpage.pdf", record())
    assert stray and info.valid


@pytest.mark.filterwarnings("ignore:a library's notice:UserWarning")
def test_warnings_from_another_thread_never_fail_a_good_file_and_bad_content_still_fails(ours, tmp_path,
                                                                                         monkeypatch):
    """The stray warnings come on every parse (so validating again cannot help): a good file passes,
    a page whose content pikepdf cannot parse fails; without the thread-aware catch the good file fails."""
    import pikepdf.pdfa._content as content

    from tasks.pdfcheck.checks import PARSERS_WITH_OWN_WARNINGS

    assert "pikepdf.pdfa._content" in PARSERS_WITH_OWN_WARNINGS and "pikepdf.pdfa._cmap" in PARSERS_WITH_OWN_WARNINGS
    warned = _warning_inside_parses(monkeypatch, from_another_thread=True)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ResourceWarning)  # as Python's defaults have it
        report = check_pdf(ours)
    assert warned and report.passed, format_report(report)
    # the UserWarning went where it would have gone; the ResourceWarning, ignored out there, was dropped
    assert {str(w.message) for w in shown} == {"a library's notice"}
    Image.new("RGB", (120, 200), "white").save(tmp_path / "startpage.png")
    warned.clear()
    info = make_archival_pdf(tmp_path / "startpage.png", tmp_path / "startpage.pdf", record())  # validated twice
    assert warned and info.valid

    bad = check_pdf(resave(ours, _unparsable_first_page))
    assert not bad.passed and any(f.rule == "pikepdf:content-parse" for f in bad.findings), format_report(bad)

    warned.clear()
    monkeypatch.setattr(content, "warnings", warnings)  # pikepdf's own catch: the good file fails
    plain = check_pdf(ours)
    assert warned and [f.rule for f in plain.findings] == ["pikepdf:content-parse"]


@pytest.mark.filterwarnings("ignore:Unexpected end of stream:UserWarning")
def test_another_threads_catch_ending_inside_a_parse_is_checked_again_not_trusted(ours, monkeypatch):
    """Another thread's catch_warnings that ends while pikepdf parses puts the process's warning
    settings back under it (Prefect validates a model in one for every task run): the parser's own
    warnings go unrecorded and an unparsable page could pass. The parse counts as failed then, and
    the file is checked again: a bad page still fails, a good file passes."""
    import threading

    import pikepdf.pdfa._content as content

    real = content.content_checker

    def with_a_catch_ending_in_the_first_parse(data: bytes):
        entered, leave, left = threading.Event(), threading.Event(), threading.Event()
        parses = []

        def elsewhere():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                entered.set()
                leave.wait(10)
            left.set()

        class Interrupted:
            def __init__(self, checker):
                self._checker = checker

            def check(self, stream):
                parses.append(stream)
                if len(parses) == 1:
                    leave.set()
                    left.wait(10)
                return self._checker.check(stream)

        monkeypatch.setattr(content, "content_checker", lambda limits: Interrupted(real(limits)))
        other = threading.Thread(target=elsewhere)
        other.start()
        entered.wait(10)
        try:
            with warnings.catch_warnings():
                return check_pdf(data)
        finally:
            leave.set()
            other.join()

    bad = resave(ours, _unparsable_first_page)
    report = with_a_catch_ending_in_the_first_parse(bad)
    assert [f.rule for f in report.findings] == ["pikepdf:content-parse"], format_report(report)
    assert "Unexpected end of stream" in report.findings[0].message
    good = with_a_catch_ending_in_the_first_parse(ours)
    assert good.passed, format_report(good)

    monkeypatch.setattr(content, "warnings", warnings)  # pikepdf's own catch: the unparsable page goes unseen
    assert "pikepdf:content-parse" not in [f.rule for f in with_a_catch_ending_in_the_first_parse(bad).findings]


# -- XMP: predefined schemas, extension schemas, value types ---------------------------------------

_EXTENSION = """<rdf:Description rdf:about="" xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
  <pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
    <pdfaSchema:schema>somearkiv case data</pdfaSchema:schema>
    <pdfaSchema:namespaceURI>https://example.org/ns/case/1.0/</pdfaSchema:namespaceURI>
    <pdfaSchema:prefix>case</pdfaSchema:prefix>
    <pdfaSchema:property><rdf:Seq>
      <rdf:li rdf:parseType="Resource">
        <pdfaProperty:name>number</pdfaProperty:name><pdfaProperty:valueType>Integer</pdfaProperty:valueType>
        <pdfaProperty:category>external</pdfaProperty:category>
        <pdfaProperty:description>case number</pdfaProperty:description>
      </rdf:li>
    </rdf:Seq></pdfaSchema:property>
  </rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>"""
_CAMERA = """<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"
    xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"
    xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"
    exif:ExposureTime="1/60" exif:PixelXDimension="240" tiff:Orientation="1" tiff:Make="Camera Maker">
  <exif:ISOSpeedRatings><rdf:Seq><rdf:li>100</rdf:li></rdf:Seq></exif:ISOSpeedRatings>
  <exif:Flash rdf:parseType="Resource"><exif:Fired>False</exif:Fired><exif:Mode>2</exif:Mode></exif:Flash>
  <photoshop:SupplementalCategories><rdf:Bag><rdf:li>archive</rdf:li></rdf:Bag></photoshop:SupplementalCategories>
  <xmpMM:History><rdf:Seq><rdf:li stEvt:action="converted" stEvt:when="2026-11-30T10:00:00Z"/></rdf:Seq></xmpMM:History>
</rdf:Description>"""


def with_xmp(data: bytes, *descriptions: str) -> bytes:
    """*data* with rdf:Description elements added to its XMP packet."""
    def mutate(pdf):
        packet = pdf.Root.Metadata.read_bytes().decode()
        assert packet.count("</rdf:RDF>") == 1
        pdf.Root.Metadata.write(packet.replace("</rdf:RDF>", "".join(descriptions) + "</rdf:RDF>").encode())
    return resave(data, mutate)


def _case(value: str) -> str:
    return f'<rdf:Description rdf:about="" xmlns:case="https://example.org/ns/case/1.0/" case:number="{value}"/>'


def test_xmp_with_exif_tiff_and_an_extension_schema_passes(ours):
    """pikepdf alone rejects every one of these properties (6.6.2.3.1-1); they are all allowed."""
    data = with_xmp(ours, _CAMERA, _EXTENSION, _case("17"))
    assert not pikepdf.pdfa.validate_written(io.BytesIO(data), "2b").passed
    report = check_pdf(data)
    assert report.passed and report.findings == [], format_report(report)


def test_an_undeclared_custom_xmp_property_fails(ours):
    report = rejected(with_xmp(ours, _case("17")), "6.6.2.3.1-1")
    assert [f.message for f in report.findings] == [
        "XMP property case:number is neither predefined in XMP 2005 nor declared in an extension schema"]


@pytest.mark.parametrize(("descriptions", "label"), [
    ((_EXTENSION, _case("seventeen")), "case:number"),  # declared Integer
    (('<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="9"/>',),
     "tiff:Orientation"),  # a closed choice, 1-8
    (('<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:subject>x</dc:subject>'
      '</rdf:Description>',), "dc:subject"),  # a Bag, written as simple text
    (('<rdf:Description rdf:about="" xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/" '
      'xmlns:stEvt="http://ns.adobe.com/xap/1.0/sType/ResourceEvent#"><xmpMM:History><rdf:Seq>'
      '<rdf:li stEvt:when="yesterday"/></rdf:Seq></xmpMM:History></rdf:Description>',), "xmpMM:History"),
], ids=["declared-integer", "closed-choice", "bag-as-text", "structure-field"])
def test_an_xmp_value_of_the_wrong_type_fails(ours, descriptions, label):
    report = rejected(with_xmp(ours, *descriptions), "6.6.2.3.1-2")
    assert any(label in f.message for f in report.findings), format_report(report)


def test_a_broken_extension_schema_is_reported(ours):
    broken = _EXTENSION.replace("<pdfaProperty:category>external</pdfaProperty:category>", "")
    rejected(with_xmp(ours, broken, _case("17")), "6.6.2.3.3-9")
    unknown_type = _EXTENSION.replace(">Integer<", ">CaseNumber<")
    rejected(with_xmp(ours, unknown_type, _case("17")), "6.6.2.3.3-8")


CORPUS = resources.files("tests").joinpath("data/pdfa-corpus")


def corpus_file(name: str) -> bytes:
    return CORPUS.joinpath(f"veraPDF test suite {name}.pdf").read_bytes()


@pytest.mark.parametrize("name", ["6-6-2-3-1-t14-pass-a", "6-6-2-3-1-t15-pass-a", "6-6-2-3-2-t01-pass-a",
                                  "6-6-2-3-2-t01-pass-b"])
def test_corpus_files_with_tiff_exif_and_extension_schemas_pass(name):
    report = check_pdf(corpus_file(name))
    assert report.verdict == "valid" and report.passed, format_report(report)


def test_corpus_file_with_an_undeclared_property_fails():
    rejected(corpus_file("6-6-2-3-2-t01-fail-a"), "6.6.2.3.1-1")


# -- what could not be checked is reported as such, never as a failure --------------------------------


def test_unsupported_rules_are_not_checked_not_failed():
    """A valid file with a Type 3 font: pikepdf cannot check it, so the verdict is 'not checked'."""
    report = check_pdf(corpus_file("6-2-10-t04-pass-a"))
    assert report.verdict == "not checked" and not report.passed, format_report(report)
    assert report.violations == [] and report.not_checked
    assert all(f.kind == "unsupported" for f in report.findings)
    text = format_report(report)
    assert "NOT FULLY CHECKED" in text and "not checked (neither passed nor failed)" in text and "FAILED" not in text


def test_pikepdf_cautions_and_replaced_rules_are_not_passed_on(ours):
    """No output intent: pikepdf's blanket 'cannot be checked' is dismissed, its real findings stay."""
    data = resave(ours, lambda pdf: pdf.Root.__delattr__("OutputIntents"))
    report = check_pdf(data)
    assert "pikepdf:output-intent" not in report.rules
    assert "6.2.4.3-2" in {f.rule for f in report.findings if f.source == "pikepdf"}


def test_verify_exit_codes_separate_invalid_from_not_checked(ours, tmp_path):
    from typer.testing import CliRunner

    from deployments.cli import app
    from tasks.verification import EXIT_INVALID, EXIT_NOT_CHECKED, EXIT_OK

    runner = CliRunner()
    cases = {"valid.pdf": (ours, EXIT_OK), "invalid.pdf": (with_xmp(ours, _case("17")), EXIT_INVALID),
             "unchecked.pdf": (corpus_file("6-2-10-t04-pass-a"), EXIT_NOT_CHECKED)}
    for name, (data, expected) in cases.items():
        (tmp_path / name).write_bytes(data)
        result = runner.invoke(app, ["verify", str(tmp_path / name)])
        assert result.exit_code == expected, (name, result.output)
    assert "pikepdf:font-type3" in result.output and "not checked" in result.output
    as_json = json.loads(runner.invoke(app, ["verify", str(tmp_path / "unchecked.pdf"), "--json"]).output)
    assert as_json["pdf"]["verdict"] == "not checked"


def test_transparency_without_output_intent_or_group_colour_space_is_6_2_10_2(ours):
    """pikepdf covers this rule only by demanding an output intent; our check reads the rule itself."""
    def mutate(pdf):
        del pdf.Root.OutputIntents
        pdf.pages[0].Resources.ExtGState = pikepdf.Dictionary(GS0=pikepdf.Dictionary(ca=0.5))
    data = resave(ours, mutate)
    rejected(data, "6.2.10-2")
    grouped = resave(data, lambda pdf: setattr(pdf.pages[0].obj, "Group", pikepdf.Dictionary(
        S=pikepdf.Name.Transparency, CS=pikepdf.Name.DeviceRGB)))
    assert "6.2.10-2" not in check_pdf(grouped).rules


def _content_bomb(decoded: int, layers: int = 1) -> bytes:
    """A one-page PDF whose content stream inflates to *decoded* bytes of spaces, compressed *layers* times."""
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(b" " * (1 << 22)) for _ in range(decoded >> 22)) + packer.flush()
    for _ in range(layers - 1):
        data = zlib.compress(data, 9)
    filters = b"[" + b" /FlateDecode" * layers + b" ]"
    return _one_page_pdf(b"<< /Length %d /Filter %s >>\nstream\n" % (len(data), filters) + data + b"\nendstream")


def _one_page_pdf(contents: bytes, catalog_extra: bytes = b"") -> bytes:
    objects = [b"<< /Type /Catalog /Pages 2 0 R %s>>" % catalog_extra, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R >>", contents]
    out, offsets = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += (b"trailer\n<< /Size 5 /Root 1 0 R /ID [<00112233445566778899aabbccddeeff> "
            b"<00112233445566778899aabbccddeeff>] >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return bytes(out)


@pytest.mark.parametrize("layers", [1, 2])
def test_a_decompression_bomb_is_not_handed_to_pikepdf(layers):
    """A content stream that inflates past the limit (4 MB of file became 8 GB of memory in qpdf) is not
    parsed, through however many filters: the report says what was not checked instead of the process
    running out of memory."""
    report = check_pdf(_content_bomb(96 << 20, layers))
    limit = [f for f in report.findings if f.rule == "somearkiv:limit"]
    assert limit and limit[0].kind == "unsupported" and "inflates past 64 MB" in limit[0].message
    assert not any(f.source == "pikepdf" and f.rule != "somearkiv:limit" for f in report.findings)
    small = check_pdf(_content_bomb(4 << 20, layers))  # the same shape under the limit is checked by pikepdf
    assert not any(f.rule == "somearkiv:limit" for f in small.findings)


def test_a_file_whose_check_outgrows_the_memory_ceiling_is_not_checked_and_the_process_survives(tmp_path):
    """No structural limit bounds every file (one array of 2 million zeros is ~300 MB in qpdf), so
    `verify` checks under a ceiling on the memory the check may add. qpdf 'repairs' what it could not allocate,
    so the report must say the check was incomplete rather than pass on pikepdf's findings."""
    import resource

    from tasks.pdfcheck.ceiling import memory_ceiling

    limit = 160 << 20
    wide = tmp_path / "wide.pdf"
    wide.write_bytes(_one_page_pdf(b"<< /Length 0 >>\nstream\n\nendstream", b"/X [" + b"0 " * 2_000_000 + b"] "))
    before = resource.getrlimit(resource.RLIMIT_DATA)
    report = check_pdf(wide, max_memory=limit)
    assert resource.getrlimit(resource.RLIMIT_DATA) == before  # the ceiling is lifted again
    limit_found = [f for f in report.findings if f.rule == "somearkiv:limit"]
    assert limit_found and "needs more than" in limit_found[0].message and limit_found[0].kind == "unsupported"
    assert not any(f.source == "pikepdf" for f in report.findings) and report.verdict != "valid"
    unbounded = check_pdf(wide)  # without the ceiling the same file is checked by pikepdf as well
    assert not any(f.rule == "somearkiv:limit" for f in unbounded.findings)
    assert any(f.source == "pikepdf" for f in unbounded.findings)
    with memory_ceiling(64 << 20) as reached:  # the ceiling itself: an allocation past it fails
        with pytest.raises(MemoryError):  # (2 GB: more than the heap the checks above freed but kept mapped)
            bytearray(2 << 30)
    assert not reached()  # a failed allocation is not resident memory; qpdf's repairs are what reached() is for


def test_a_well_formed_file_under_the_ceiling_is_checked_completely(ours, tmp_path):
    path = tmp_path / "ours.pdf"
    path.write_bytes(ours)
    report = check_pdf(path, max_memory=160 << 20)
    assert report.verdict == "valid", report.findings
    assert report.sha256 == check_pdf(ours).sha256


def test_a_file_too_large_for_the_ceiling_is_hashed_but_not_read_whole(tmp_path):
    big = tmp_path / "big.pdf"
    data = _content_bomb(4 << 20)
    after_comment = data.index(b"\n", data.index(b"\n") + 1) + 1  # header and binary comment as they were
    big.write_bytes(data[:after_comment] + b"%" + b"x" * (8 << 20) + b"\n" + data[after_comment:])
    report = check_pdf(big, max_memory=16 << 20)
    assert report.verdict == "not checked" and [f.rule for f in report.findings] == ["somearkiv:limit"]
    assert report.size == big.stat().st_size and report.sha256 == hashlib.sha256(big.read_bytes()).hexdigest()
    bare = tmp_path / "zeros.pdf"  # a header, then 40 MB of zeros: no trailer, no %%EOF, no binary comment
    bare.write_bytes(b"%PDF-1.4\n" + bytes(40 << 20))
    report = check_pdf(bare, max_memory=16 << 20)
    assert report.verdict == "invalid", report.findings
    assert {f.rule for f in report.findings} == {"ISO_32000_1:7.5.5", "6.1.2-2", "somearkiv:limit"}


def test_arrays_read_in_runs_keep_numbers_references_and_errors_as_written():
    """The lexer reads runs of plain numbers many at a time; what it returns is the same as one token
    at a time: a `num gen R` becomes a Ref wherever the run ends, a comment between still counts."""
    from tasks.pdfcheck.lexer import Lexer, PdfSyntaxError, Ref

    cases = {b"[1 0 R 2.5 -3 +4 .5 -.5 2. 7]": [Ref(1, 0), 2.5, -3, 4, 0.5, -0.5, 2.0, 7],
             b"[5 1 0 R]": [5, Ref(1, 0)], b"[1 2 3 R]": [1, Ref(2, 3)], b"[1 %c\n 0 R]": [Ref(1, 0)],
             b"[1.0 0 R" + b"]": None, b"[0 R]": None, b"[1 0R]": None, b"[/a 0 R]": None,
             b"[" + b"0 " * 5000 + b"4 0 R]": [0] * 5000 + [Ref(4, 0)],  # the ref spans two runs
             b"[1 0 R 0 R]": None, b"[[1] 0 R]": None, b"[1 2a]": None, b"[12 0 obj]": None,
             b"[ 3 << /A 1 0 R >> 4 ]": [3, {"/A": Ref(1, 0)}, 4], b"[1 +2 R 3 2.0 R]": None}
    for source, expected in cases.items():
        if expected is None:
            with pytest.raises(PdfSyntaxError):
                Lexer(source).object()
        else:
            value = Lexer(source).object()
            assert value == expected and [type(v) for v in value] == [type(v) for v in expected], source
    assert Lexer(b"12" + b" \x00" * 100_000 + b"5 x").object() == 12  # no backtracking over a long gap


def test_objects_that_outgrow_the_ceiling_are_read_once_and_the_other_checks_still_run(tmp_path, monkeypatch):
    """A million small objects ran out of memory in every check that needed them, each reading the file
    again (97 s); now the first MemoryError is remembered and the byte checks that need no objects report."""
    from tasks.pdfcheck.reader import PdfFile as Reader

    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 10 10] >>"] + [b"[1]"] * 50_000
    parts, offsets, pos = [b"%PDF-1.7\n"], [], 9
    for number, body in enumerate(objs, 1):
        offsets.append(pos)
        parts.append(b"%d 0 obj\n%s\nendobj\n" % (number, body))
        pos += len(parts[-1])
    parts.append(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets))
    parts.append(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, pos))
    many = tmp_path / "many.pdf"
    many.write_bytes(b"".join(parts))
    reads = []
    original = Reader._load_objects
    monkeypatch.setattr(Reader, "_load_objects",  # counted when it would read, not when it refuses at once
                        lambda self: (None if self._out_of_memory else reads.append(1)) or original(self))
    chains = []
    original_chain = Reader._read_chain
    monkeypatch.setattr(Reader, "_read_chain",
                        lambda self: (None if self._out_of_memory else chains.append(1)) or original_chain(self))
    report = check_pdf(many, max_memory=24 << 20)  # above 5x the file (2 MB), below what its objects take (~90 MB)
    rules = {f.rule for f in report.findings}
    assert "somearkiv:limit" in rules and "somearkiv:internal" not in rules, report.findings
    assert "6.1.2-2" in rules  # no binary comment: found without the objects
    assert len(reads) <= 1 and len(chains) == 1  # (the xref chain alone may already be too much)
    reads.clear()
    assert not any(f.rule == "somearkiv:limit" for f in check_pdf(many).findings) and len(reads) == 1


def test_an_outside_files_check_is_bounded_in_time_and_says_what_it_did_not_check(tmp_path, monkeypatch):
    """20 000 streams that never end and 2 MB after them: each is searched to the end of the file (19 s here;
    a 23 MB one ran past two minutes). A file from outside (max_memory) is checked for at most
    CHECK_TIME_BUDGET_S; what ran out is a 'not checked' finding, never a pass, and the timer is put back."""
    import signal
    import time

    from tasks.pdfcheck import validate
    from tasks.pdfcheck.ceiling import CHECK_MEMORY_BUDGET

    monkeypatch.setattr(validate, "CHECK_TIME_BUDGET_S", 1.0)
    head = (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
            b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n")
    body = b"".join(b"%d 0 obj\n<< /Length 99999999 >>\nstream\n" % (10 + i) for i in range(20000))
    path = tmp_path / "never-ends.pdf"
    path.write_bytes(head + body + b"x" * (2 << 20) + b"\ntrailer\n<< /Root 1 0 R /Size 20010 >>\n%%EOF\n")
    handler = signal.getsignal(signal.SIGALRM)
    began = time.monotonic()
    report = check_pdf(path, max_memory=CHECK_MEMORY_BUDGET)
    assert time.monotonic() - began < 10
    limit = [f for f in report.findings if f.rule == "somearkiv:limit"]
    assert limit and "took more than 1 s" in limit[0].message and not report.passed, report.findings
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getsignal(signal.SIGALRM) is handler

    def never_ends(pdf):  # a check whose own 'except Exception' would swallow an ordinary exception
        while True:
            try:
                time.sleep(0.01)
            except Exception:  # noqa: BLE001
                pass
        yield

    began = time.monotonic()
    report = check_pdf(path, checks=(never_ends,), max_memory=CHECK_MEMORY_BUDGET)
    assert time.monotonic() - began < 5 and any(f.rule == "somearkiv:limit" for f in report.findings)


def test_a_file_too_large_to_hash_in_time_is_reported_without_a_digest(tmp_path, monkeypatch):
    """A sparse file of 100 GB is made in a moment and took 109 s to hash: hashing is bounded by the same
    time, and a report without a digest says so (and is never a pass)."""
    import os
    import time

    from tasks.pdfcheck import validate

    monkeypatch.setattr(validate, "CHECK_TIME_BUDGET_S", 0.2)
    path = tmp_path / "sparse.pdf"
    with path.open("wb") as f:
        f.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        os.truncate(f.fileno(), 8 << 30)
    began = time.monotonic()
    report = check_pdf(path, max_memory=64 << 20)
    assert time.monotonic() - began < 5
    assert report.sha256 is None and not report.passed and report.size == 8 << 30
    assert any("hashing its" in f.message and f.rule == "somearkiv:limit" for f in report.findings)
    assert "sha256 not computed" in format_report(report)
    small = tmp_path / "small.pdf"
    small.write_bytes(b"%PDF-1.7\n" + bytes(1 << 20))
    assert check_pdf(small, max_memory=1 << 20).sha256 == hashlib.sha256(small.read_bytes()).hexdigest()


def test_reading_a_file_of_unreadable_objects_leaves_no_cycles_behind():
    """The reader runs with the cyclic collector off: a kept exception (its traceback holds the frame that
    holds it) would stay in memory for every unreadable object until the check ends."""
    import gc

    bodies = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    data = handmade(*bodies, *[b"<< /A [ >>" for _ in range(500)])  # 500 objects that do not parse
    gc.collect()
    gc.disable()
    try:
        pdf = PdfFile(data)
        assert len(pdf.object_problems) >= 500
        del pdf
        left = gc.collect()
    finally:
        gc.enable()
    assert left < 50, left


def test_a_jpeg_that_would_not_fit_under_the_memory_ceiling_is_left_undecoded_not_called_damaged():
    """libjpeg reports an allocation refused under `verify`'s ceiling as "broken data stream": a JPEG whose
    decoding would not fit in what is left is not begun (a progressive one holds 2 bytes a pixel and
    component whatever the scale)."""
    import subprocess
    import sys
    from pathlib import Path

    from tasks.pdfcheck import decoding
    from tasks.pdfcheck.ceiling import memory_ceiling

    out = io.BytesIO()
    Image.linear_gradient("L").resize((3000, 3000)).convert("RGB").save(out, "JPEG", progressive=True)
    jpeg = out.getvalue()  # 54 MB of coefficients
    with memory_ceiling(8 << 20):
        assert decoding.decode(jpeg, ["/DCTDecode"]) == decoding.Decoded(len(jpeg), not_decoded=("/DCTDecode",))
    # the check's own bad case, what it is for: in a fresh process (memory freed by earlier tests is reused
    # without asking the system, so in this one the ceiling may not be felt)
    bad_case = ("import sys; from tasks.pdfcheck import decoding; from tasks.pdfcheck.ceiling import memory_ceiling\n"
                "decoding.memory_headroom = lambda: None\n"
                "jpeg = sys.stdin.buffer.read()\n"
                "with memory_ceiling(8 << 20):\n"
                "    print(decoding.decode(jpeg, ['/DCTDecode']).damaged_in)\n")
    ran = subprocess.run([sys.executable, "-c", bad_case], input=jpeg, capture_output=True,
                         cwd=Path(__file__).parents[1])
    assert ran.stdout.decode().strip() == "/DCTDecode", ran.stderr.decode()[-2000:]
    assert decoding.decode(jpeg, ["/DCTDecode"]) == decoding.Decoded(len(jpeg))  # without a ceiling: sound
