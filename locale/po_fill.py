"""Fill msgstr in a .po file from translation sources: *.py dict literals or "English => Spanish" lines.
Prints untranslated msgids."""
import ast, re, sys

po_path, sources = sys.argv[1], sys.argv[2:]
tr = {}
for src in sources:
    text = open(src, encoding="utf-8").read()
    if src.endswith(".py"):
        tr.update({" ".join(k.split()): v for k, v in ast.literal_eval(text).items()})
    else:
        for line in text.splitlines():
            if line.startswith("#") or "=>" not in line:
                continue
            en, es = line.split(" => ", 1) if " => " in line else line.split("=>", 1)
            tr[" ".join(en.split())] = es.strip()
text = open(po_path, encoding="utf-8").read()
blocks = text.split("\n\n")
out, missing = [], []

def unq(lines):
    return "".join(ast.literal_eval(l) for l in lines)

def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

def grab(lines, prefix):
    idx = next(j for j, l in enumerate(lines) if l.startswith(prefix + " "))
    vals = [lines[idx][len(prefix) + 1:]]
    for l in lines[idx + 1:]:
        if l.startswith('"'):
            vals.append(l)
        else:
            break
    return idx, unq(vals)

for i, block in enumerate(blocks):
    lines = block.split("\n")
    if i == 0 or not any(l.startswith("msgid ") for l in lines):
        out.append(block); continue
    head_end = next(j for j, l in enumerate(lines) if l.startswith("msgid "))
    head = [l for l in lines[:head_end] if l != "#, fuzzy" and not l.startswith("#| ")]
    head = [re.sub(r"^#, fuzzy, ", "#, ", l) for l in head]
    _, msgid = grab(lines, "msgid")
    key = " ".join(msgid.split())
    if any(l.startswith("msgid_plural") for l in lines):
        _, plural = grab(lines, "msgid_plural")
        pk = " ".join(plural.split())
        if key in tr and pk in tr:
            out.append("\n".join(head + ["msgid " + q(msgid), "msgid_plural " + q(plural),
                                         "msgstr[0] " + q(tr[key]), "msgstr[1] " + q(tr[pk]),
                                         "msgstr[2] " + q(tr[pk])]))
        else:
            missing.append(key); out.append(block)
        continue
    ms, current = grab(lines, "msgstr")
    if key in tr:
        out.append("\n".join(head + ["msgid " + q(msgid), "msgstr " + q(tr[key])]))
    else:
        if not current:
            missing.append(key)
        out.append(block)
open(po_path, "w", encoding="utf-8").write("\n\n".join(out))
for m in missing:
    print("MISSING:", m)
