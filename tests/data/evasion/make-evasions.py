#!/usr/bin/python3
"""The evasion corpus (issue 11): every `matches:` example of the default
packs' acting rules, rewritten the ways people write around keyword filters.

  tests/data/evasion/make-evasions.py [--packs DIR] [--seed N] [--out FILE]

Writes one line per evasive message: TRANSFORMATION <TAB> RULE_ID <TAB> TEXT,
the untransformed examples first as "original". A transformation that leaves
an example unchanged (no digit to circle, no simplified character to make
traditional) writes nothing for it. The same packs, seed and Unicode data
always give the same file.

Narrow transformations (folded by default once normalisation lands):
  fullwidth    ASCII as full-width forms (ＶＸ, １３８)
  enclosed     circled and parenthesised digits and letters (①③⑧, ⓠⓠ)
  invisible    zero-width and other format characters between characters
  traditional  traditional forms of simplified characters (Unihan)
  lookalike    Cyrillic and Greek letters that look like Latin ones
  case         mixed case
Opted-in transformations (per rule, riskier):
  separators   spaces, dots, dashes, symbols and emoji inside terms
  digit_words  digits as Chinese numerals (一 壹 幺)
  homophones   Han characters replaced by others with the same Mandarin
               reading (Unihan kMandarin)

Needs /usr/bin/python3 with python3-yaml and Debian's unicode-data.
"""
import argparse
import bz2
import random
import sys
from pathlib import Path

import yaml

UNICODE = Path("/usr/share/unicode")
PACKS = ["contact", "minors", "sexual", "gambling", "drugs", "collectibles", "ai-content",
         "copyright"]

INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
SEPARATORS = [" ", ".", "-", "_", "*", "·", "❤", "😀", "/", "~"]
# Latin letters and the Cyrillic or Greek letters drawn the same way.
LOOKALIKE = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у",
             "i": "і", "j": "ј", "s": "ѕ", "v": "ν", "A": "А", "B": "В", "C": "С", "E": "Е",
             "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р", "T": "Т", "X": "Х", "3": "З"}
DIGIT_WORDS = {"0": "零〇", "1": "一壹幺", "2": "二贰两", "3": "三叁", "4": "四肆", "5": "五伍",
               "6": "六陆", "7": "七柒", "8": "八捌", "9": "九玖"}


def unihan(name, field):
    """{code point: [values]} of one Unihan field."""
    out = {}
    with bz2.open(UNICODE / name, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("U+"):
                continue
            cp, key, value = line.rstrip("\n").split("\t", 2)
            if key == field:
                out[int(cp[2:], 16)] = value.split()
    return out


def load_tables():
    trad = {}
    for cp, vals in unihan("Unihan_Variants.txt.bz2", "kTraditionalVariant").items():
        forms = [int(v[2:], 16) for v in vals if int(v[2:], 16) != cp]
        if forms:
            trad[chr(cp)] = [chr(c) for c in forms]
    # Homophones among common characters only (those with a frequency in
    # kHanyuPinlu), by their most frequent reading: 微 威 薇 are all wēi.
    readings = unihan("Unihan_Readings.txt.bz2", "kHanyuPinlu")
    sound = {}
    for cp, vals in readings.items():
        if 0x4E00 <= cp <= 0x9FFF:
            best = max(vals, key=lambda v: int(v[v.index("(") + 1:-1]))
            sound[chr(cp)] = best[:best.index("(")]
    by_sound = {}
    for c, s in sound.items():
        by_sound.setdefault(s, []).append(c)
    homophone = {c: sorted(x for x in by_sound[s] if x != c) for c, s in sound.items()}
    homophone = {c: v for c, v in homophone.items() if v}
    return trad, homophone


def fullwidth(text, rng, t):
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c)
                   for c in text)


def enclosed(text, rng, t):
    out = []
    for c in text:
        if "1" <= c <= "9":
            out.append(chr(0x2460 + ord(c) - ord("1")))
        elif c == "0":
            out.append("⓪")
        elif "a" <= c <= "z":
            out.append(chr(0x24D0 + ord(c) - ord("a")))
        elif "A" <= c <= "Z":
            out.append(chr(0x24B6 + ord(c) - ord("A")))
        else:
            out.append(c)
    return "".join(out)


def between(text, rng, pool):
    """A character of pool between every two non-space characters."""
    out = []
    for i, c in enumerate(text):
        out.append(c)
        if i + 1 < len(text) and not c.isspace() and not text[i + 1].isspace():
            out.append(rng.choice(pool))
    return "".join(out)


def invisible(text, rng, t):
    return between(text, rng, INVISIBLE)


def separators(text, rng, t):
    return between(text, rng, SEPARATORS)


def traditional(text, rng, t):
    return "".join(rng.choice(t["trad"][c]) if c in t["trad"] else c for c in text)


def lookalike(text, rng, t):
    return "".join(LOOKALIKE.get(c, c) for c in text)


def case(text, rng, t):
    return "".join(c.upper() if c.isascii() and rng.random() < 0.5 else
                   c.lower() if c.isascii() else c for c in text)


def digit_words(text, rng, t):
    return "".join(rng.choice(DIGIT_WORDS[c]) if c in DIGIT_WORDS else c for c in text)


def homophones(text, rng, t):
    """About half the Han characters that have a common homophone, at least
    one."""
    spots = [i for i, c in enumerate(text) if c in t["homophone"]]
    if not spots:
        return text
    chosen = {i for i in spots if rng.random() < 0.5} or {rng.choice(spots)}
    return "".join(rng.choice(t["homophone"][c]) if i in chosen else c
                   for i, c in enumerate(text))


NARROW = [("fullwidth", fullwidth), ("enclosed", enclosed), ("invisible", invisible),
          ("traditional", traditional), ("lookalike", lookalike), ("case", case)]
OPT_IN = [("separators", separators), ("digit_words", digit_words),
          ("homophones", homophones)]


def examples(packs_dir):
    """(rule id, example) of every acting rule, in file order."""
    for name in PACKS:
        doc = yaml.safe_load((packs_dir / f"{name}.yaml").read_text(encoding="utf-8"))
        for rule in doc.get("rules") or []:
            if rule.get("action") in (None, "allow") or rule.get("quiet"):
                continue
            for ex in rule.get("matches") or []:
                yield rule["id"], str(ex)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packs", default=str(Path(__file__).resolve().parents[3] / "patterns" / "packs"))
    ap.add_argument("--seed", type=int, default=20261205)
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    trad, homophone = load_tables()
    tables = {"trad": trad, "homophone": homophone}
    rng = random.Random(args.seed)
    lines = []
    for rule, ex in examples(Path(args.packs)):
        if "\t" in ex or "\n" in ex:
            continue
        lines.append(("original", rule, ex))
        for name, fn in NARROW + OPT_IN:
            out = fn(ex, rng, tables)
            if out != ex:
                lines.append((name, rule, out))
    text = "".join(f"{k}\t{r}\t{t}\n" for k, r, t in lines)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
