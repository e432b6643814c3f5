"""The profile's elements found on the page: rules per platform, then a generic fallback.

Each element (name, handle, bio, link, avatar, banner, pinned post) has a list of rules tried in
order; the first that finds a visible element with something in it wins, and the element
records which rule it was (``mastodon:.account__header__bio``, ``generic:meta og:description``),
so a platform that changes its markup shows as elements found by the fallback, not as a change.

A rule is one of:
  ``css:SELECTOR``    the first visible element matching SELECTOR (its text, or its link for ``link``)
  ``meta:NAME``       a <meta property|name=NAME> content (text only, no box)
  ``handle-text``     a short element whose whole text is an @handle
  ``pinned-label``    the post holding a "Fäst inlägg" / "Pinned" label

The platform rules are what the platforms' public pages used when written; they change without
notice, which is what the fallback is for. Noise (dates, counters, ads, suggestions, the feed) is
found by the same script, so the comparison can mask it.
"""

from __future__ import annotations

import re

from somearkiv.models import Platform

__all__ = ["EXTRACT_JS", "GENERIC_RULES", "PLATFORM_RULES", "normalise", "rules_for", "strip_noise"]

GENERIC_RULES: dict[str, list[str]] = {
    "name": ["css:[itemprop=name]", "css:[class*='display-name' i]", "css:[class*='displayname' i]",
             "css:header h1, [class*='profile' i] h1", "css:h1", "meta:og:title"],
    "handle": ["css:[class*='handle' i]", "css:[class*='username' i]", "css:[itemprop=alternateName]",
               "handle-text"],
    "bio": ["css:[class*='bio' i]", "css:[class*='about' i]", "css:[itemprop=description]",
            "css:[class*='description' i]", "meta:og:description", "meta:description"],
    "link": ["css:a[rel~=me]", "css:[class*='website' i] a[href], a[class*='website' i]",
             "css:[class*='profile' i] a[href^='http'], header a[href^='http']"],
    "avatar": ["css:img[alt*='avatar' i], img[class*='avatar' i]", "css:img[alt*='profilbild' i], "
               "img[alt*='profile picture' i], img[alt*='profile photo' i]", "css:[class*='avatar' i]",
               "css:[aria-label*='profilbild' i], [aria-label*='profile picture' i]", "css:img[alt*='profil' i]"],
    "banner": ["css:img[alt*='banner' i], img[alt*='omslag' i], img[alt*='cover' i], img[alt*='header' i]",
               "css:[class*='banner' i], [class*='cover' i], [class*='header-image' i]"],
    "pinned": ["css:[class*='pinned' i], [data-pinned], [aria-label*='fäst' i]", "pinned-label"],
}

# What the platforms' own pages use (best effort; the generic rules follow each list).
PLATFORM_RULES: dict[str, dict[str, list[str]]] = {
    "facebook": {
        "name": ["css:[role=main] h1"],
        "avatar": ["css:[aria-label*='profilbild' i] image, [aria-label*='profile picture' i] image",
                   "css:svg[aria-label*='profil' i]"],
        "banner": ["css:img[data-imgperflogname='profileCoverPhoto']"],
        "bio": ["css:[data-pagelet='ProfileTilesFeed_0'] span, [data-pagelet*='Intro'] span"],
    },
    "instagram": {
        "name": ["css:header section span[dir=auto]", "css:header h2"],
        "handle": ["css:header h2", "css:header h1"],
        "avatar": ["css:header img[alt*='profil' i], header img"],
        "bio": ["css:header section h1 + span, header section > div:last-child span"],
        "link": ["css:header a[href*='l.instagram.com']"],
    },
    "x": {
        "name": ["css:[data-testid=UserName] span"],
        "handle": ["css:[data-testid=UserName] div[dir=ltr] span"],
        "bio": ["css:[data-testid=UserDescription]"],
        "link": ["css:[data-testid=UserUrl]"],
        "avatar": ["css:a[href$='/photo'] img"],
        "banner": ["css:a[href$='/header_photo'] img"],
        "pinned": ["css:article:has([data-testid=socialContext])"],
    },
    "mastodon": {
        "name": ["css:.account__header__tabs__name h1 > span, .account__header__tabs__name h1"],
        "handle": ["css:.account__header__tabs__name small, .account__header__acct"],
        "bio": ["css:.account__header__content"],
        "link": ["css:.account__header__fields a[rel~=me], .account__header__fields a"],
        "avatar": ["css:.account__avatar img, .account__header__avatar img"],
        "banner": ["css:.account__header__image img"],
        "pinned": ["css:.status__prepend:has(.fa-thumb-tack), article:has(.status__prepend-icon.fa-thumb-tack)"],
    },
    "youtube": {
        "name": ["css:#channel-name #text, yt-dynamic-text-view-model h1, #page-header h1"],
        "handle": ["css:#channel-handle, yt-content-metadata-view-model span:first-child"],
        "bio": ["css:yt-description-preview-view-model, #channel-tagline"],
        "link": ["css:yt-attribution-view-model a, #links-section a"],
        "avatar": ["css:yt-decorated-avatar-view-model img, #avatar img, #channel-header-container img"],
        "banner": ["css:yt-image-banner-view-model img, #banner img"],
        "pinned": ["css:ytd-channel-video-player-renderer"],
    },
    "bluesky": {
        "name": ["css:[data-testid=profileHeaderDisplayName]"],
        "handle": ["css:[data-testid=profileHeaderHandle]"],
        "bio": ["css:[data-testid=profileHeaderDescription]"],
        "avatar": ["css:[data-testid=userAvatarImage] img"],
        "banner": ["css:[data-testid=userBannerImage] img"],
        "pinned": ["css:[data-testid*=pinned i]"],
    },
    "linkedin": {
        "name": ["css:.org-top-card-summary__title, h1.top-card-layout__title"],
        "bio": ["css:.org-top-card-summary__tagline, h4.top-card-layout__second-subline"],
        "avatar": ["css:.org-top-card-primary-content__logo, img.top-card-layout__entity-image"],
        "banner": ["css:.org-top-card-module__hero img, .cover-img__image"],
    },
    "threads": {"name": ["css:h1"], "bio": ["css:header + div span[dir=auto]"]},
}


def rules_for(platform: Platform | str) -> dict[str, list[str]]:
    """The rules for *platform*: its own first, then the generic ones, per element."""
    own = PLATFORM_RULES.get(str(platform), {})
    return {element: [f"{platform}|{r}" for r in own.get(element, [])] + [f"generic|{r}" for r in generic]
            for element, generic in GENERIC_RULES.items()}


# The page side: finds the elements by the rules, and the noise to mask (dates, counters, ads,
# suggestions, the feed except the pinned post), within the top `maxY` px of the page.
EXTRACT_JS = r"""
({rules, maxY}) => {
  const textOf = (el) => (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim();
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) return false;
    const s = getComputedStyle(el);
    return s.visibility !== 'hidden' && s.display !== 'none' && s.opacity !== '0';
  };
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return [Math.round(r.left + scrollX), Math.round(r.top + scrollY), Math.round(r.width), Math.round(r.height)];
  };
  const inTop = (el) => { const b = box(el); return b[1] < maxY; };
  const meta = (name) => {
    const m = document.querySelector(`meta[property="${name}"], meta[name="${name}"]`);
    return m ? (m.getAttribute('content') || '').trim() : '';
  };
  const pinnedLabel = /^(fäst(at)?( inlägg)?|fastnålat( inlägg)?|pinned( post| tweet| toot)?|fixerat inlägg)$/i;
  const post = 'article, [role=article], li, [class*="post" i]';
  const found = {};
  for (const [element, list] of Object.entries(rules)) {
    found[element] = null;
    for (const spec of list) {
      const cut = spec.indexOf('|'), source = spec.slice(0, cut), rule = spec.slice(cut + 1);
      let el = null, text = '', href = null;
      try {
        if (rule.startsWith('meta:')) {
          text = meta(rule.slice(5));
          if (text) { found[element] = {text, href: null, box: null, rule: `${source}:meta ${rule.slice(5)}`}; break; }
          continue;
        }
        if (rule === 'handle-text') {
          el = Array.from(document.querySelectorAll('span, div, p, small, a'))
            .find(e => e.children.length === 0 && /^@[\w.@-]{2,60}$/.test(textOf(e)) && visible(e) && inTop(e));
        } else if (rule === 'pinned-label') {
          const label = Array.from(document.querySelectorAll('span, div, p, small, header, strong'))
            .find(e => e.children.length === 0 && pinnedLabel.test(textOf(e)) && visible(e));
          el = label ? (label.closest(post) || label.parentElement) : null;
        } else {
          el = Array.from(document.querySelectorAll(rule.slice(4))).find(e => visible(e) && inTop(e)) || null;
        }
      } catch (e) { continue; }  // a selector this browser does not know
      if (!el) continue;
      text = textOf(el);
      if (element === 'link') {
        const a = el.closest('a') || el.querySelector('a');
        href = a ? a.href : null;
        if (!href && !text) continue;
      } else if (!['avatar', 'banner'].includes(element) && !text) continue;
      if (element === 'pinned') text = text.replace(/^(fäst(at)?( inlägg)?|fastnålat( inlägg)?|pinned( post| tweet| toot)?)\s*/i, '');
      found[element] = {text: text.slice(0, 4000), href, box: box(el), rule: `${source}:${rule.replace(/^css:/, '')}`};
      el.setAttribute('data-somearkiv-element', element);
      break;
    }
  }
  // noise: what changes by itself and says nothing about the account
  const relative = /^(för\s+)?\d+\s*(s|sek|min|m|t|tim|h|d|dag(ar)?|v|veck(a|or)|mån|år|y|w)(\s+sedan)?$|^(igår|i går|idag|i dag|just nu|nyss|yesterday|today|just now)$|\b\d+\s*(seconds?|minutes?|hours?|days?|weeks?|months?|years?)\s+ago$/i;
  const counter = /^[\d\s.,]+(\s*(tn|mn|k|m))?(\s+\S+)?$/i;
  const adLabel = /^(sponsrad|sponsrat|annons|reklam|sponsored|promoted|ad)$/i;
  const noise = [];
  const add = (el, why) => {
    // never hide the profile's elements (a class like 'account__header' says 'count' too)
    if (!visible(el) || !inTop(el) || el.hasAttribute('data-somearkiv-element')
        || el.querySelector('[data-somearkiv-element]')) return;
    noise.push([...box(el), why]);
  };
  document.querySelectorAll('time, [datetime]').forEach(e => add(e, 'date'));
  document.querySelectorAll('span, small, a, div, li, strong, b, abbr').forEach(e => {
    if (e.children.length > 2) return;
    const t = textOf(e);
    if (!t || t.length > 40) return;
    if (relative.test(t)) add(e, 'date');
    else if (counter.test(t) && /\d/.test(t)) add(e, 'counter');
    else if (adLabel.test(t)) { const ad = e.closest('aside, section, div[class], article') || e; add(ad, 'ad'); }
  });
  document.querySelectorAll('[class*="counter" i], [class~="count" i], [class*="stats" i], [class~="stat" i], '
      + '[class*="likes" i]').forEach(e => add(e, 'counter'));
  document.querySelectorAll('[class~="ad" i], [class*="sponsor" i], [class*="advert" i], [data-ad], ' +
      '[aria-label*="sponsr" i], [aria-label*="annons" i], iframe').forEach(e => add(e, 'ad'));
  document.querySelectorAll('[class*="suggest" i], [class*="recommend" i], [class*="rekommend" i], ' +
      '[class*="trending" i], [class*="carousel" i], [aria-label*="förslag" i]').forEach(e => add(e, 'rotating'));
  const pinnedEl = document.querySelector('[data-somearkiv-element="pinned"]');
  document.querySelectorAll('article, [role=article]').forEach(e => {
    if (pinnedEl && (e === pinnedEl || e.contains(pinnedEl) || pinnedEl.contains(e))) return;
    if (e.querySelector('[data-somearkiv-element]')) return;
    add(e, 'feed');
  });
  const body = document.body ? document.body.innerText : '';
  return {elements: found, noise, text: body.slice(0, 200000), height: document.documentElement.scrollHeight};
}
"""

_RELATIVE = [
    re.compile(r"\b(för\s+)?\d+\s*(s|sek|sekunder|min|minuter|m|t|tim|timmar|h|d|dag|dagar|v|vecka|veckor|mån|"
               r"månader|år|w|y)\b(\s+sedan)?", re.I),
    re.compile(r"\b(igår|i går|idag|i dag|just nu|nyss|yesterday|today|just now)\b", re.I),
    re.compile(r"\b\d+\s*(seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s+ago\b", re.I),
    re.compile(r"\b\d{1,2}\s+(jan|feb|mar|apr|maj|may|jun|jul|aug|sep|okt|oct|nov|dec)[a-zé]*\.?(\s+\d{4})?", re.I),
    re.compile(r"\b(20\d\d)-\d\d-\d\d([T ]\d\d:\d\d(:\d\d)?)?"),
]
_NUMBER = re.compile(r"\d[\d\s\u00a0.,]*(\s*(tn|mn|k|m)\b)?", re.I)
_SPACE = re.compile(r"\s+")


def strip_noise(text: str, numbers: bool = False) -> str:
    """*text* without relative and absolute dates (and with *numbers*, counters), whitespace collapsed."""
    for pattern in _RELATIVE:
        text = pattern.sub(" ", text)
    if numbers:
        text = _NUMBER.sub("#", text)
    return _SPACE.sub(" ", text).strip()


def normalise(element: str, text: str | None) -> str:
    """The text of an element as it is compared: noise out, case and spacing kept apart from meaning."""
    if not text:
        return ""
    if element == "pinned":
        return strip_noise(text, numbers=True)  # its date and its like/comment counts move by themselves
    if element == "link":
        return re.sub(r"^https?://(www\.)?|/$", "", text.strip()).lower()
    return _SPACE.sub(" ", text).strip()
