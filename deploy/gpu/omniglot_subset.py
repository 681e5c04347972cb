#!/usr/bin/env python3
"""A small Omniglot for the GPU check: usage omniglot_subset.py SRC_DIR DEST_DIR ALPHABETS

Copies the first ALPHABETS alphabets (by name) of each official zip (images_background.zip, images_evaluation.zip) into
zips of the same names and layout, so MetaCluster (--split lake) and the peer (Lake's split) read them as they read the
full set. Timing a meta-iteration does not depend on how many characters there are to sample from.
"""
import os
import sys
import zipfile


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[0])
    src, dest, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.makedirs(dest, exist_ok=True)
    for name in ("images_background.zip", "images_evaluation.zip"):
        path = os.path.join(src, name)
        if not os.path.isfile(path):
            sys.exit("omniglot_subset.py: %s is missing; set OMNIGLOT_DIR to the folder holding the official zips" % path)
        with zipfile.ZipFile(path) as z:
            entries = [e for e in z.infolist() if len(e.filename.split("/")) >= 2 and e.filename.split("/")[1]]
            alphabets = sorted({e.filename.split("/")[1] for e in entries})[:count]
            kept = [e for e in entries if e.filename.split("/")[1] in alphabets]
            with zipfile.ZipFile(os.path.join(dest, name), "w", zipfile.ZIP_STORED) as out:
                for e in kept:
                    out.writestr(e, z.read(e.filename))
        pngs = sum(1 for e in kept if e.filename.endswith(".png"))
        print("%s: %d alphabets, %d images" % (name, len(alphabets), pngs), file=sys.stderr)


if __name__ == "__main__":
    main()
