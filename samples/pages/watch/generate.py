"""Writes the weekly watch's sample pages: one account's start page in versions (tests, demo).

``<account>/v1.html`` is the state the first watch sees. ``v1-noise.html`` differs from it only in
noise: relative dates, counters, the ad, the suggestions and the feed (a new post on top, the
oldest gone). The ``v2-*`` versions are the noisy page plus one major change each: a new name,
profile picture, bio or pinned post. ``kommun`` uses generic markup (found by the fallback rules),
``mastodon`` Mastodon's own class names (its platform rules). The sample site serves
``/watch/<account>/`` in the version ``SampleSite.set_watch_version`` chose (or ``?v=``).

Run it again after editing; the output is committed.
"""

from __future__ import annotations

import html
from pathlib import Path

HERE = Path(__file__).parent

BASE = dict(
    name="Perstorps kommun", handle="@perstorpskommun", followers="4 812", likes="12", avatar="avatar-a.svg",
    bio="Välkommen till Perstorps kommuns officiella sida. Vi svarar på frågor vardagar 8–16.",
    link="https://www.perstorp.se", pinned="Viktigt: så når du kommunen när det är storm. Ring 0435-350 00 "
    "eller läs mer på webbplatsen.", pinned_age="3 tim", ad=("Sponsrad", "Köp nya vinterdäck idag!", "#f5b041"),
    suggestions=["Klippans kommun", "Åstorps kommun", "Skånetrafiken"],
    feed=[("igår", "Nu är julbelysningen tänd på torget!"), ("3 d", "Vägarbete på Storgatan vecka 47–48."),
          ("1 v", "Biblioteket har förlängda öppettider."), ("2 v", "Kommunfullmäktige sammanträder 30 oktober.")],
)
NOISE = dict(
    followers="4 836", likes="15", pinned_age="5 tim", ad=("Sponsrad", "Semester i solen – boka nu", "#5dade2"),
    suggestions=["Örkelljunga kommun", "Region Skåne", "Hässleholms kommun"],
    feed=[("2 tim", "Snöröjningen är igång i hela kommunen."), ("2 d", "Nu är julbelysningen tänd på torget!"),
          ("4 d", "Vägarbete på Storgatan vecka 47–48."), ("1 v", "Biblioteket har förlängda öppettider.")],
)
VERSIONS = {
    "v1": {},
    "v1-noise": NOISE,
    "v2-name": {**NOISE, "name": "Perstorp – Skånes gröna hjärta"},
    "v2-avatar": {**NOISE, "avatar": "avatar-b.svg"},
    "v2-bio": {**NOISE, "bio": "Här hittar du nyheter om valet 2026 och kommunens nya organisation."},
    "v2-pinned": {**NOISE, "pinned": "Ny webbplats! Från och med i dag finns alla e-tjänster samlade på ett ställe."},
}

AVATARS = {
    "avatar-a.svg": '<rect width="160" height="160" fill="#1f618d"/><circle cx="80" cy="70" r="38" fill="#f4d03f"/>'
                    '<rect x="30" y="118" width="100" height="18" fill="#ffffff"/>',
    "avatar-b.svg": '<rect width="160" height="160" fill="#1e8449"/><path d="M80 14 L146 146 L14 146 Z" '
                    'fill="#ffffff"/><circle cx="80" cy="104" r="22" fill="#c0392b"/>',
}
BANNER = ('<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="260" viewBox="0 0 1200 260">'
          '<rect width="1200" height="260" fill="#a9cce3"/><path d="M0 200 L300 90 L520 180 L800 60 L1200 190 '
          'L1200 260 L0 260 Z" fill="#2e4053" opacity="0.6"/><circle cx="1020" cy="70" r="40" fill="#fdfefe"/></svg>')


def _svg(body: str, size: int = 160) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 160 160">{body}</svg>'


def _ad(label: str, text: str, colour: str) -> str:
    return (f'<aside class="ad"><small>{label}</small><div class="ad-image" style="background:{colour}"></div>'
            f'<p>{html.escape(text)}</p></aside>')


CSS = """
  body { margin: 0; font-family: "DejaVu Sans", sans-serif; background: #f0f2f5; color: #1c1e21; }
  .topbar { background: #34495e; color: #fff; padding: 12px 24px; font-size: 22px; font-weight: bold; }
  .banner img, .account__header__image img { width: 100%; height: 220px; object-fit: cover; display: block; }
  .profile, .account__header__bar { background: #fff; padding: 16px 24px; display: flex; gap: 24px; }
  .avatar img, .account__avatar img { width: 140px; height: 140px; border-radius: 50%; display: block; }
  h1 { margin: 0 0 4px; font-size: 28px; }
  .handle, .account__header__acct { color: #65676b; }
  .layout { display: flex; gap: 24px; max-width: 1100px; margin: 16px auto; }
  main { flex: 1; }
  .side { width: 300px; }
  .post, .status { background: #fff; border-radius: 8px; padding: 16px; margin-bottom: 16px; }
  .post header, .status header { display: flex; justify-content: space-between; color: #65676b; }
  .ad { background: #fff; border-radius: 8px; padding: 12px; margin-bottom: 16px; }
  .ad-image { height: 120px; border-radius: 4px; }
  .suggestions { background: #fff; border-radius: 8px; padding: 12px; }
  .stats { list-style: none; display: flex; gap: 16px; padding: 0; margin: 8px 0; }
"""


def page(kind: str, v: dict) -> str:
    """One version of the page: generic markup ('kommun') or Mastodon's ('mastodon')."""
    esc = html.escape
    feed = "\n".join(f'<article class="{"status" if kind == "mastodon" else "post"}"><header><span>{esc(v["name"])}'
                     f'</span><span class="age">{age}</span></header><p>{esc(text)}</p></article>'
                     for age, text in v["feed"])
    pin_label = "Fäst inlägg"
    pinned_class = "status pinned" if kind == "mastodon" else "post pinned"
    pinned = (f'<article class="{pinned_class}"><header><span class="label">{pin_label}</span><span class="age">'
              f'{v["pinned_age"]}</span></header><p>{esc(v["pinned"])}</p><footer><span class="likes">'
              f'{v["likes"]} gillar</span></footer></article>')
    suggestions = "".join(f"<li>{esc(s)}</li>" for s in v["suggestions"])
    side = (f'<div class="side">{_ad(*v["ad"])}<section class="suggestions" aria-label="Förslag för dig">'
            f'<h2>Förslag för dig</h2><ul>{suggestions}</ul></section></div>')
    title = f'{esc(v["name"])} ({esc(v["handle"])})'
    if kind == "mastodon":
        header = f"""<div class="account__header">
  <div class="account__header__image"><img src="img/banner.svg" alt=""></div>
  <div class="account__header__bar">
    <div class="account__avatar"><img src="img/{v["avatar"]}" alt=""></div>
    <div>
      <div class="account__header__tabs__name"><h1><span>{esc(v["name"])}</span></h1>
        <small>{esc(v["handle"])}@mastodon.nu</small></div>
      <div class="account__header__content"><p>{esc(v["bio"])}</p></div>
      <div class="account__header__fields"><dl><dt>Webbplats</dt><dd><a href="{v["link"]}" rel="me nofollow">
        {esc(v["link"].removeprefix("https://"))}</a></dd></dl></div>
      <div class="account__header__extra__links"><span class="counter">{v["followers"]} följare</span></div>
    </div>
  </div>
</div>"""
    else:
        header = f"""<div class="banner"><img src="img/banner.svg" alt="Omslagsbild"></div>
<section class="profile">
  <div class="avatar"><img src="img/{v["avatar"]}" alt="Profilbild"></div>
  <div>
    <h1>{esc(v["name"])}</h1>
    <div class="handle">{esc(v["handle"])}</div>
    <ul class="stats"><li><strong>{v["followers"]}</strong> följare</li></ul>
    <p class="about">{esc(v["bio"])}</p>
    <p class="website"><a href="{v["link"]}">{esc(v["link"].removeprefix("https://"))}</a></p>
  </div>
</section>"""
    return f"""<!doctype html>
<html lang="sv">
<head>
<meta charset="utf-8">
<title>{title}</title>
<meta property="og:title" content="{esc(v["name"])}">
<meta property="og:description" content="{esc(v["bio"])}">
<style>{CSS}</style>
</head>
<body>
<div class="topbar">{"Mastodon" if kind == "mastodon" else "Sociala medier"}</div>
{header}
<div class="layout">
<main>
{pinned}
{feed}
</main>
{side}
</div>
</body>
</html>
"""


def main() -> None:
    for kind in ("kommun", "mastodon"):
        folder = HERE / kind
        (folder / "img").mkdir(parents=True, exist_ok=True)
        for name, body in AVATARS.items():
            (folder / "img" / name).write_text(_svg(body), encoding="utf-8")
        (folder / "img" / "banner.svg").write_text(BANNER, encoding="utf-8")
        for version, changes in VERSIONS.items():
            (folder / f"{version}.html").write_text(page(kind, {**BASE, **changes}), encoding="utf-8")


if __name__ == "__main__":
    main()
