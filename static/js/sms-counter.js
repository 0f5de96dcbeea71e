/*
 * SMS part counter for the browser: the twin of campaigns/sms.py, so that the count under a
 * textarea is the count the server estimates with. The tables below must stay identical to the
 * Python ones; tests/campaigns/test_sms_counter_js.py runs both over every BMP character.
 *
 *   window.TextcastSms.count(text)
 *     -> {encoding, length, parts, perPart, remaining, ucs2Chars: [{char, replacement}]}
 *   window.TextcastSms.replaceUcs2(text) -> text with the GSM look-alikes swapped in
 *   window.TextcastSms.fillTokens(text, values) -> text with {{tokens}} replaced from `values`
 *
 * On a page, every <textarea data-sms-counter="ID"> gets a live count in the element with id ID.
 * With data-token-values (JSON, from campaigns.estimates.typical_token_values) tokens are counted
 * as the text the server's estimate puts in their place: {{first_name}} as a typical name, not as
 * 14 characters of which four braces cost two septets each.
 */
(function (root) {
  "use strict";

  const GSM7 = "GSM-7";
  const UCS2 = "UCS-2";
  const GSM_SINGLE = 160, GSM_MULTI = 153, UCS2_SINGLE = 70, UCS2_MULTI = 67;

  // GSM 03.38 default alphabet in table order, minus 0x1B (the escape to the extension table).
  const GSM_BASIC =
    "@£$¥èéùìòÇ\nØø\rÅå" +
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ" +
    " !\"#¤%&'()*+,-./" +
    "0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNO" +
    "PQRSTUVWXYZÄÖÑÜ§" +
    "¿abcdefghijklmno" +
    "pqrstuvwxyzäöñüà";
  // Extension table: each is sent as ESC + character, so it costs two septets.
  const GSM_EXTENSION = "\f^{}\\[~]|€";

  // Letters with accents GSM lacks -> the same letter without them (see campaigns/sms.py).
  const ACCENTED =
    "ÀÁÂÃÈÊËÌÍÎÏÒÓÔÕÙÚÛÝáâãçêëíîïóôõúûýÿĀāĂăĄąĆćĈĉĊċČčĎďĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĨĩĪīĬĭĮįİĴĵĶķĹĺĻļĽľŃńŅņŇň" +
    "ŌōŎŏŐőŔŕŖŗŘřŚśŜŝŞşŠšŢţŤťŨũŪūŬŭŮůŰűŲųŴŵŶŷŸŹźŻżŽžƠơƯưǍǎǏǐǑǒǓǔǕǖǗǘǙǚǛǜǞǟǠǡǦǧǨǩǪǫǬǭǰǴǵǸǹǺǻȀȁȂȃȄȅȆȇȈȉ" +
    "ȊȋȌȍȎȏȐȑȒȓȔȕȖȗȘșȚțȞȟȦȧȨȩȪȫȬȭȮȯȰȱȲȳ";
  const UNACCENTED =
    "AAAAEEEIIIIOOOOUUUYaaaceeiiiooouuyyAaAaAaCcCcCcCcDdEeEeEeEeEeGgGgGgGgHhIiIiIiIiIJjKkLlLlLlNnNnNn" +
    "OoOoOoRrRrRrSsSsSsSsTtTtUuUuUuUuUuUuWwYyYZzZzZzOoUuAaIiOoUuUuUuUuUuAaAaGgKkOoOojGgNnAaAaAaEeEeIi" +
    "IiOoOoRrRrUuUuSsTtHhAaEeOoOoOoOoYy";

  const REPLACEMENTS = new Map();
  const replaceAll = (chars, replacement) => {
    for (const char of chars) REPLACEMENTS.set(char, replacement);
  };
  for (let i = 0; i < ACCENTED.length; i++) REPLACEMENTS.set(ACCENTED[i], UNACCENTED[i]);
  // Letters without a decomposition (\u0131 is the dotless i).
  for (const [char, replacement] of Object.entries({
    "Ð": "D", "ð": "d", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "\u0131": "i", "Ł": "L", "ł": "l",
    "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th", "Ŧ": "T", "ŧ": "t",
  })) REPLACEMENTS.set(char, replacement);
  // Greek capitals that look like Latin ones: Alpha, Beta, Epsilon, Zeta, Eta, Iota, Kappa, Mu,
  // Nu, Omicron, Rho, Tau, Upsilon, Chi.
  const greek = "\u0391\u0392\u0395\u0396\u0397\u0399\u039a\u039c\u039d\u039f\u03a1\u03a4\u03a5\u03a7";
  for (let i = 0; i < greek.length; i++) REPLACEMENTS.set(greek[i], "ABEZHIKMNOPTYX"[i]);
  // Single quotes: left, right, low-9, high-reversed-9, prime, angle left/right, grave, acute.
  replaceAll("\u2018\u2019\u201a\u201b\u2032\u2039\u203a`\u00b4", "'");
  // Double quotes: left, right, low-9, high-reversed-9, double prime, guillemets.
  replaceAll("\u201c\u201d\u201e\u201f\u2033«»", '"');
  // Hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal bar, minus sign.
  replaceAll("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-");
  REPLACEMENTS.set("\u2026", "..."); // ellipsis
  // \xa0 … causes SMS messages to use UCS2 encoding and cost twice the money. So do its
  // relatives (en/em/thin/narrow spaces …) and the tab.
  replaceAll("\xa0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\t", " ");
  // Invisible characters with nothing to show for their price: suggest dropping them.
  replaceAll("\u00ad\u200b\u2060\ufeff", "");

  const BASIC = new Set(GSM_BASIC);
  const EXTENSION = new Set(GSM_EXTENSION);

  function count(text) {
    const chars = Array.from(text); // code points: a surrogate pair is one character
    const gsm = chars.every((char) => BASIC.has(char) || EXTENSION.has(char));
    // Unit offsets where a two-unit character starts (ESC + char, or a surrogate pair).
    const wide = new Set();
    let length = 0;
    for (const char of chars) {
      const units = gsm ? (EXTENSION.has(char) ? 2 : 1) : char.length;
      if (units === 2) wide.add(length);
      length += units;
    }
    const single = gsm ? GSM_SINGLE : UCS2_SINGLE;
    const multi = gsm ? GSM_MULTI : UCS2_MULTI;
    let parts, perPart, remaining;
    if (length <= single) {
      parts = length ? 1 : 0;
      perPart = single;
      remaining = single - length;
    } else {
      // A two-unit character is never cut in two: the part ends early and it opens the next.
      let start = 0;
      parts = 1;
      while (length - start > multi) {
        let end = start + multi;
        if (wide.has(end - 1)) end -= 1;
        start = end;
        parts += 1;
      }
      perPart = multi;
      remaining = multi - (length - start);
    }
    const ucs2Chars = [];
    if (!gsm) {
      const seen = new Set();
      for (const char of chars) {
        if (BASIC.has(char) || EXTENSION.has(char) || seen.has(char)) continue;
        seen.add(char);
        ucs2Chars.push({ char, replacement: REPLACEMENTS.has(char) ? REPLACEMENTS.get(char) : null });
      }
    }
    return { encoding: gsm ? GSM7 : UCS2, length, parts, perPart, remaining, ucs2Chars };
  }

  // A token as campaigns/rendering.py reads it: {{name}}, {{name:ID}} or a field with a fallback,
  // {{first_name|there}}; ASCII spaces allowed inside.
  const TOKEN = /\{\{[ \t\n\r\f\v]*(\w+)[ \t\n\r\f\v]*(?::[ \t\n\r\f\v]*(\d+)[ \t\n\r\f\v]*|\|([^{}]*))?\}\}/g;

  // values: token name -> text; "name:*" for any id (links), "name:ID" for one id (spinners).
  // Tokens not in values (misspelt, unknown ids) are left as written: the review page flags them.
  // A fallback counts when it is longer than the typical value: some recipients get it instead.
  function fillTokens(text, values) {
    return text.replace(TOKEN, (token, name, id, fallback) => {
      const value = id === undefined ? values[name] : values[`${name}:${Number(id)}`] ?? values[`${name}:*`];
      if (typeof value !== "string") return token;
      const other = fallback === undefined ? "" : fallback.trim();
      return other.length > value.length ? other : value;
    });
  }

  function replaceUcs2(text) {
    return Array.from(text, (char) => (REPLACEMENTS.has(char) ? REPLACEMENTS.get(char) : char)).join("");
  }

  // Invisible or blank culprits are shown by code point, or the reader sees an empty <mark>.
  const INVISIBLE = /^[\s\u00ad\u200b-\u200f\u2060\ufeff]$/u;

  function label(char) {
    if (!INVISIBLE.test(char)) return char;
    return "U+" + char.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
  }

  function show(textarea, output, values) {
    const filled = values ? fillTokens(textarea.value, values) : textarea.value;
    const result = count(filled);
    const doc = output.ownerDocument;
    const partsLabel = result.parts === 1 ? "SMS part" : "SMS parts";
    const encoding = result.encoding === UCS2 ? "UCS-2 (Unicode)" : GSM7;
    const summary = doc.createElement("span");
    const typical = filled !== textarea.value ? " · tokens at typical lengths" : "";
    // "left in this part": how much more fits before the text costs another part.
    const left = `${result.remaining} left in this part`;
    summary.textContent = `${result.length} characters · ${result.parts} ${partsLabel} · ${left} · ${encoding}${typical}`;
    const nodes = [summary];
    const maxParts = Number(textarea.dataset.maxParts || 0);
    if (maxParts && result.parts > maxParts) {
      const over = doc.createElement("strong");
      over.className = "error";
      over.textContent = ` — over the limit of ${maxParts} parts: shorten it`;
      nodes.push(over);
    }
    if (result.ucs2Chars.length) {
      const culprits = doc.createElement("span");
      culprits.append(" — Unicode because of: ");
      result.ucs2Chars.forEach(({ char, replacement }, index) => {
        if (index) culprits.append(" ");
        const mark = doc.createElement("mark");
        mark.textContent = label(char);
        if (replacement !== null) mark.title = replacement ? `GSM equivalent: ${replacement}` : "invisible: remove it";
        culprits.append(mark);
      });
      nodes.push(culprits);
      if (result.ucs2Chars.some(({ replacement }) => replacement !== null)) {
        const button = doc.createElement("button");
        button.type = "button";
        button.textContent = "Replace with GSM equivalents";
        button.addEventListener("click", () => {
          textarea.value = replaceUcs2(textarea.value);
          textarea.dispatchEvent(new Event("input", { bubbles: true }));
          textarea.focus();
        });
        nodes.push(" ", button);
      }
    }
    output.replaceChildren(...nodes);
  }

  function wire(doc) {
    for (const textarea of doc.querySelectorAll("textarea[data-sms-counter]")) {
      const output = doc.getElementById(textarea.dataset.smsCounter);
      if (!output) continue;
      if (!output.hasAttribute("aria-live")) output.setAttribute("aria-live", "polite");
      // Read on every input: compose.js swaps the values when the account (and so the links) changes.
      const values = () => (textarea.dataset.tokenValues ? JSON.parse(textarea.dataset.tokenValues) : null);
      textarea.addEventListener("input", () => show(textarea, output, values()));
      show(textarea, output, values());
    }
  }

  root.TextcastSms = { count, replaceUcs2, fillTokens };

  if (typeof document !== "undefined") {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", () => wire(document));
    } else {
      wire(document);
    }
  }
})(typeof window !== "undefined" ? window : globalThis);
