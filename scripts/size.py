#!/usr/bin/env python3
"""Deployment size of the four function binaries: the bootstrap as built, stripped, and zipped.

For each function in BIN_DIR (webhook, worker, scheduler, rotation) it prints

- bootstrap: the binary as cargo built it (what `cargo lambda build` / `sam build` put in the zip);
- stripped: the same after `strip` (equal to bootstrap when the profile already strips);
- zip: a zip holding it as `bootstrap` (deflate, level 9), the unit Lambda receives;
- zip stripped: the same for the stripped binary.

Sizes in bytes and MB (10^6 bytes, as the Lambda console and the goal "<= 4 MB" count them).

Usage: scripts/size.py BIN_DIR   (make size builds the release binaries and runs it)
Reports; exits non-zero only if a binary is missing, or with --max-zip-mb N if a zip is larger.
"""

import argparse
import io
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import zipfile

FUNCTIONS = ("webhook", "worker", "scheduler", "rotation")


def zipped_size(binary):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, binary.read_bytes(), compresslevel=9)
    return len(buffer.getvalue())


def stripped_copy(binary, directory):
    copy = pathlib.Path(directory) / binary.name
    subprocess.run(["strip", "-o", str(copy), str(binary)], check=True)
    return copy


def mb(size):
    return f"{size / 1e6:.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bin_dir", type=pathlib.Path)
    parser.add_argument("--max-zip-mb", type=float, default=None)
    args = parser.parse_args()
    if shutil.which("strip") is None:
        raise SystemExit("strip (binutils) not found")

    print(f"deployment size of {args.bin_dir} (MB = 10^6 bytes; zip = deflate level 9 of `bootstrap`)")
    print(f"{'function':<9} | {'bootstrap':>9} | {'stripped':>8} | {'zip':>5} | {'zip stripped':>12}")
    too_large = []
    with tempfile.TemporaryDirectory() as scratch:
        for name in FUNCTIONS:
            binary = args.bin_dir / name
            if not binary.is_file():
                raise SystemExit(f"missing {binary}; build it first (make size does)")
            stripped = stripped_copy(binary, scratch)
            sizes = (
                os.path.getsize(binary),
                os.path.getsize(stripped),
                zipped_size(binary),
                zipped_size(stripped),
            )
            print(f"{name:<9} | {mb(sizes[0]):>9} | {mb(sizes[1]):>8} | {mb(sizes[2]):>5} | {mb(sizes[3]):>12}")
            if args.max_zip_mb is not None and sizes[2] > args.max_zip_mb * 1e6:
                too_large.append(name)
    if too_large:
        print(f"zip larger than {args.max_zip_mb} MB: {', '.join(too_large)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
