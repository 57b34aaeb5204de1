# Regenerates python_lower.json: Python str.lower() on every code point it
# changes and on random strings around capital sigma. Dev-side only.
#   python3 gen_python_lower.py > python_lower.json
import json, random, sys, unicodedata
random.seed(2)
single = [chr(c) for c in range(0x20, 0x30000) if not 0xD800 <= c <= 0xDFFF and chr(c).lower() != chr(c)]
alph = ['Σ', 'σ', 'ς', 'Α', 'a', ' ', "'", '.', '\u0301', '\u00ad', 'İ', 'I', 'Ω', 'ʰ', '1', '-', 'ᾼ', 'ǅ', 'Ⅻ', 'Ⓐ', ':', '\u200d']
texts = [''.join(single[i:i + 64]) for i in range(0, len(single), 64)]
texts += [''.join(random.choice(alph) for _ in range(random.randint(1, 8))) for _ in range(1500)]
json.dump({"description": "Python %s str.lower() (Unicode %s)" % (sys.version.split()[0], unicodedata.unidata_version),
           "cases": [{"text": t, "lower": t.lower()} for t in texts]}, sys.stdout, ensure_ascii=False, separators=(',', ':'))
