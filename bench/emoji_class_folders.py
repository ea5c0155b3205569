#!/usr/bin/python3
"""Image folders of one emoji vendor's drawings, one class per emoji category or subcategory,
for the transfer-learning measurements (bench/RESULTS.md, "Transfer learning (issue 8)").

  emoji_class_folders.py --packages DIR --dump DUMP --vendor google --by subcategory --min 20 -o OUT

DUMP is `i2v data from-emoji --packages DIR -o DUMP`; the category and subcategory of each emoji
come from its package's emoji.json (DIR/emoji-datasource-<vendor>-*.tgz). Pictures are hard
links to DUMP/original/. Skin-tone variations (the same drawing recoloured) are left out unless
--skin-tones: in a train/test split they would put near-copies of test pictures in training.
Classes with fewer than --min pictures are left out. Prints the classes and their sizes.
"""
import argparse
import collections
import glob
import json
import os
import re
import sys
import tarfile


def tag_of(phrase):
    """The tag i2v's emoji converter makes of a category name: lower case, runs of
    non-alphanumerics as '_' ("Smileys & Emotion" -> "smileys_and_emotion")."""
    phrase = phrase.lower().replace("&", "and")
    return re.sub(r"[^a-z0-9-]+", "_", phrase).strip("_")


def emoji_classes(packages, vendor):
    tarballs = sorted(glob.glob(os.path.join(packages, f"emoji-datasource-{vendor}-[0-9]*.tgz")))
    if not tarballs:
        sys.exit(f"no emoji-datasource-{vendor}-*.tgz in {packages} (scripts/fetch_emoji.sh {packages} {vendor})")
    with tarfile.open(tarballs[-1]) as tar:
        emoji = json.load(tar.extractfile("package/emoji.json"))
    return {e["unified"]: (tag_of(e["category"]), tag_of(e["subcategory"])) for e in emoji}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", required=True)
    parser.add_argument("--dump", required=True)
    parser.add_argument("--vendor", required=True)
    parser.add_argument("--by", choices=["category", "subcategory"], default="subcategory")
    parser.add_argument("--min", type=int, default=1, help="smallest class kept")
    parser.add_argument("--skin-tones", action="store_true", help="keep the skin-tone variations")
    parser.add_argument("-o", "--output", required=True)
    args = parser.parse_args()

    classes = emoji_classes(args.packages, args.vendor)
    members = collections.defaultdict(list)
    with open(os.path.join(args.dump, "metadata.jsonl")) as metadata:
        for line in metadata:
            post = json.loads(line)
            emoji = post["emoji"]
            if emoji["vendor"] != args.vendor or (emoji["skin_tone"] and not args.skin_tones):
                continue
            category, subcategory = classes[emoji["base_unified"]]
            post_id = int(post["id"])
            picture = os.path.join(args.dump, "original", f"{post_id % 1000:04d}", f"{post_id}.png")
            members[category if args.by == "category" else subcategory].append((post_id, picture))

    kept = {name: pictures for name, pictures in members.items() if len(pictures) >= args.min}
    for name, pictures in sorted(kept.items()):
        folder = os.path.join(args.output, name)
        os.makedirs(folder, exist_ok=True)
        for post_id, picture in pictures:
            target = os.path.join(folder, f"{post_id}.png")
            if not os.path.exists(target):
                os.link(picture, target)
    total = sum(len(p) for p in kept.values())
    print(f"{args.output}: {total} pictures of {args.vendor} in {len(kept)} {args.by} classes "
          f"(of {len(members)}; {sum(len(p) for p in members.values()) - total} pictures in classes under {args.min})")
    for name, pictures in sorted(kept.items(), key=lambda item: -len(item[1])):
        print(f"  {len(pictures):5d}  {name}")


if __name__ == "__main__":
    main()
