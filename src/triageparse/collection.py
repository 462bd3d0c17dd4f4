"""Sources, collections and their members.

A *source* is what the user names: a zip, a folder or a single file. A source holds one or more
*collections* (a DFIR-<HOST>-<yyyy-MM-dd> root, or the source itself). Zip members are read as
streams and never extracted by name; nested zips are opened from a bounded spool; the total
decompressed size, a member's size and the nesting depth are capped, and whatever is refused is
reported, not silently skipped.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import lzma
import os
import re
import shutil
import stat
import struct
import tempfile
import threading
import zipfile
import zlib
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

HEAD_BYTES = 64 << 10
DFIR_ROOT = re.compile(r"^DFIR-(?P<host>.+)-(?P<date>\d{4}-\d{2}-\d{2})(?:\.zip)?$", re.I)


@dataclass(frozen=True)
class Limits:
    max_total_bytes: int = 64 << 30     # decompressed bytes per source
    max_member_bytes: int = 16 << 30    # decompressed bytes per member
    max_depth: int = 3                  # zip-in-zip nesting
    max_members: int = 200_000          # members per source
    # Real evidence compresses about 5-50:1; Deflate tops out near 1030:1, so a bomb of repeated
    # blocks is caught here once it has inflated past ratio_after bytes.
    max_ratio: int = 250
    ratio_after: int = 64 << 20
    spool_in_memory: int = 32 << 20


class LimitExceeded(Exception):
    """A size or nesting cap was hit; the message tells which and how to raise it."""


class DamagedMember(LimitExceeded):
    """The archive cannot deliver the rest of a member (bad Deflate data, CRC mismatch, cut off).

    A subclass of LimitExceeded so that every caller that stops at a cap stops here too: what was read
    before stays, the rest of the member is refused and reported.
    """


# What zipfile and the decompressors raise for damaged or hostile archives (never a bug of ours).
ARCHIVE_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
                  NotImplementedError, struct.error)


class Budget:
    """Counts decompressed bytes across one source."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limits.max_total_bytes:
            raise LimitExceeded(f"source inflates beyond {self.limits.max_total_bytes:,} bytes "
                                "(--max-bytes); the rest is refused")


class _CountingReader(io.RawIOBase):
    """Wraps a member stream: hashes what passes, enforces the size caps."""

    def __init__(self, raw: BinaryIO, member: "Member"):
        self._raw = raw
        self._member = member
        # already known or being hashed: do not hash twice
        self._hash = hashlib.sha256() if member.sha256 is None and member.pending_sha256 is None else None
        self._n = 0

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        try:
            data = self._raw.read(len(b))
        except ARCHIVE_ERRORS as exc:
            raise DamagedMember(f"{self._member.path}: damaged after {self._n:,} bytes ({exc}); "
                                "the rest of the file cannot be read") from exc
        n = len(data)
        if n:
            self._n += n
            limits = self._member.budget.limits
            if self._n > limits.max_member_bytes:
                raise LimitExceeded(f"{self._member.path}: member inflates beyond {limits.max_member_bytes:,} "
                                    "bytes (zip bomb?); the rest of it is refused")
            if self._member.compressed_size and self._n > limits.ratio_after and \
                    self._n > limits.max_ratio * self._member.compressed_size:
                raise LimitExceeded(f"{self._member.path}: compression ratio above {limits.max_ratio}:1 (zip bomb?)")
            self._member.budget.take(n)
            if self._hash is not None:
                self._hash.update(data)
            b[:n] = data
        elif self._hash is not None:
            self._member._finish_hash(self._hash, self._n)
        return n

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


@dataclass
class Member:
    """One file of a collection. ``path`` is relative to the collection root, with forward slashes."""
    path: str
    size: int | None
    opener: Callable[[], BinaryIO] = field(repr=False)
    budget: Budget = field(repr=False)
    compressed_size: int | None = None
    refused: str | None = None           # why the member cannot be read at all
    warnings: list[str] = field(default_factory=list)
    sha256: str | None = None
    read_size: int | None = None
    disk_path: Path | None = field(default=None, repr=False)   # the file itself, for folder and file sources
    pending_sha256: Future[str] | None = field(default=None, repr=False)   # being hashed beside the conversion
    _head: bytes | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]

    @property
    def lower(self) -> str:
        return self.path.lower()

    def open(self) -> BinaryIO:
        """A fresh binary stream over the member's bytes (bounded, hashed)."""
        if self.refused:
            raise LimitExceeded(self.refused)
        try:
            raw = self.opener()
        except ARCHIVE_ERRORS as exc:
            raise DamagedMember(f"{self.path}: cannot be opened in the archive ({exc})") from exc
        return io.BufferedReader(_CountingReader(raw, self), buffer_size=1 << 20)

    @property
    def head(self) -> bytes:
        """The first 64 KiB, for content sniffing."""
        if self._head is None:
            if self.refused or self.size == 0:   # zipfile never reads past the recorded size either
                self._head = b""
            else:
                try:
                    with self.opener() as f:
                        self._head = f.read(HEAD_BYTES)
                except ARCHIVE_ERRORS as exc:   # damaged from the start: nothing to route or parse
                    self._head = b""
                    self.refused = f"damaged or unreadable, cannot be read at all ({exc})"
        return self._head

    def _finish_hash(self, h, n: int) -> None:
        if self.sha256 is None:
            self.sha256 = h.hexdigest()
            self.read_size = n

    def ensure_hash(self) -> None:
        """Hash the whole member if no parser read it to the end."""
        if self.sha256 is None and self.pending_sha256 is not None:
            self.sha256 = self.pending_sha256.result()      # raises what hashing it raised
        if self.sha256 is None and not self.refused and self.size == 0:
            self._finish_hash(hashlib.sha256(), 0)   # thousands of empty members cost no archive reads
        if self.sha256 is None and not self.refused:
            with self.open() as f:
                while f.read(1 << 20):
                    pass

    @contextmanager
    def local_path(self) -> Iterator[Path]:
        """A real file with the member's bytes, for libraries that need a path (EVTX, SQLite, hives).

        Evidence is never modified: the copy lives in a private temp folder and is deleted after use.
        """
        tmpdir = tempfile.mkdtemp(prefix="triageparse-")
        try:
            target = Path(tmpdir) / "member"
            with self.open() as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            yield target
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    @contextmanager
    def readonly_path(self) -> Iterator[Path]:
        """A path for libraries that only read (EVTX): the file itself when it already lies on disk and
        is hashed, which saves a copy of a gigabyte log; otherwise a private copy like ``local_path``."""
        if self.disk_path is not None and (self.sha256 or self.pending_sha256) is not None and not self.refused:
            yield self.disk_path
            return
        with self.local_path() as path:
            yield path


@dataclass
class Collection:
    source: Path
    root: str                     # path prefix inside the source ("" for the whole source)
    members: list[Member]
    digest: str | Future[str]     # of the source; a Future while it is hashed beside the conversion
    host: str | None = None
    date: dt.date | None = None
    problems: list[tuple[str, str]] = field(default_factory=list)   # (path, message) refused at source level

    @property
    def source_sha256(self) -> str:
        if isinstance(self.digest, Future):
            self.digest = self.digest.result()
        return self.digest

    @property
    def collection_id(self) -> str:
        return hashlib.sha256(f"{self.source_sha256}\0{self.root}".encode()).hexdigest()[:16]

    @property
    def display_name(self) -> str:
        base = self.source.name
        return f"{base}!{self.root}" if self.root and self.root.rstrip("/") != Path(base).stem else base


def duplicate_name(path: str, copy: int) -> str:
    """``a/b.csv`` -> ``a/b~2.csv``: a repeated name stays a separate file and keeps its extension for routing."""
    folder, _, name = path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    name = f"{stem}~{copy}.{ext}" if dot and stem else f"{name}~{copy}"
    return f"{folder}/{name}" if folder else name


def normalise_name(name: str) -> tuple[str, str | None]:
    """Windows PowerShell 5.1 writes backslashes; absolute, drive and ``..`` names are refused."""
    raw = name
    name = name.replace("\\", "/")
    refusal = None
    if name.startswith("/") or name.startswith("//") or re.match(r"^[A-Za-z]:", name):
        refusal = f"absolute member name {raw!r} refused"
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        refusal = f"member name {raw!r} climbs out of the archive ('..'); refused"
    if any("\x00" in p for p in parts):
        refusal = f"member name {raw!r} contains NUL; refused"
    return "/".join(parts), refusal


def sha256_file(path: Path) -> str:
    # Big reads into one buffer: reading and hashing release the GIL, and every retake of it can wait a
    # switch interval (5 ms) behind another thread (the parser imports run beside the first hash).
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(min(8 << 20, os.fstat(f.fileno()).st_size + 1))    # small files: a small buffer
        view = memoryview(buf)
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def _zip_members(zf: zipfile.ZipFile, prefix: str, budget: Budget, depth: int, problems: list,
                 spools: list) -> Iterator[Member]:
    infos = zf.infolist()
    if len(infos) > budget.limits.max_members:
        problems.append((prefix or "/", f"archive has {len(infos):,} members; only the first "
                         f"{budget.limits.max_members:,} are read"))
        infos = infos[: budget.limits.max_members]
    seen: dict[str, int] = {}
    for info in infos:
        if info.is_dir() or info.filename.endswith(("/", "\\")):
            continue
        path, refusal = normalise_name(info.filename)
        if not path:
            continue
        full = f"{prefix}{path}"
        key = full.lower()
        warnings = []
        if key in seen:
            seen[key] += 1
            warnings.append(f"duplicate member name (copy {seen[key]}); kept as a separate file")
            full = duplicate_name(full, seen[key])
        else:
            seen[key] = 1
        mode = (info.external_attr >> 16) & 0o170000
        if refusal is None and mode == stat.S_IFLNK:
            refusal = "symbolic-link member refused (never followed)"
        if refusal is None and info.flag_bits & 0x1:
            refusal = "encrypted member: cannot be read without the password"
        if refusal is None and info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED,
                                                          zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            method = {9: "Deflate64 (Windows Explorer's zipper for large archives)"}.get(info.compress_type,
                                                                                          str(info.compress_type))
            refusal = (f"compression method {method} is not supported by any maintained Python library; "
                       "re-zip the collection with standard Deflate")
        opener = (lambda i=info: zf.open(i))
        m = Member(full, info.file_size, opener, budget, compressed_size=info.compress_size, refused=refusal,
                   warnings=warnings)
        if refusal is None and path.lower().endswith(".zip"):
            if depth >= budget.limits.max_depth:
                m.warnings.append(f"nested zip deeper than {budget.limits.max_depth} levels; not opened")
                yield m
                continue
            try:
                inner = _spool(m, budget)
                spools.append(inner)
                inner_zf = zipfile.ZipFile(inner)
            except (LimitExceeded, *ARCHIVE_ERRORS) as exc:
                m.warnings.append(f"nested zip could not be opened: {exc}")
                yield m
                continue
            yield m  # the container itself is inventoried too
            yield from _zip_members(inner_zf, f"{full}/", budget, depth + 1, problems, spools)
            continue
        yield m


def _spool(member: Member, budget: Budget) -> BinaryIO:
    spool = tempfile.SpooledTemporaryFile(max_size=budget.limits.spool_in_memory)
    with member.open() as src:
        shutil.copyfileobj(src, spool, 1 << 20)
    spool.seek(0)
    return spool


class _LocalMemberReader(io.RawIOBase):
    """Streams one member of a broken zip straight from its byte range: stored data is copied, Deflate
    is inflated as it is read, so memory stays bounded whatever the local header claims."""

    def __init__(self, path: Path, start: int, end: int, method: int):
        self._f = open(path, "rb")
        self._f.seek(start)
        self._left = end - start
        self._inflate = zlib.decompressobj(-15) if method == zipfile.ZIP_DEFLATED else None

    def readable(self) -> bool:
        return True

    def _raw(self, n: int) -> bytes:
        data = self._f.read(min(n, self._left))
        self._left -= len(data)
        return data

    def readinto(self, b) -> int:
        if self._inflate is None:
            data = self._raw(len(b))
        else:
            data = b""
            while not data and not self._inflate.eof:
                src = self._inflate.unconsumed_tail or self._raw(1 << 16)
                if not src:
                    break       # cut off: what was inflated so far is all there is
                data = self._inflate.decompress(src, len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


def _deflate_end(f: BinaryIO, start: int, cap: int) -> int | None:
    """Where a Deflate stream that starts at ``start`` ends (it is self-terminating), or None if cut off."""
    f.seek(start)
    inflate = zlib.decompressobj(-15)
    inflated = 0
    consumed = 0
    while not inflate.eof:
        src = inflate.unconsumed_tail or f.read(1 << 16)
        if not src:
            return None
        before = len(src)
        inflated += len(inflate.decompress(src, 1 << 20))
        consumed += before - len(inflate.unconsumed_tail) - len(inflate.unused_data)
        if inflated > cap:
            return None
    return start + consumed


def _zip64_sizes(extra: bytes, csize: int, usize: int) -> tuple[int, int]:
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        if tag == 1:
            values = list(struct.unpack_from(f"<{min(size, 16) // 8}Q", extra, pos + 4))
            if usize == 0xFFFFFFFF and values:
                usize = values.pop(0)
            if csize == 0xFFFFFFFF and values:
                csize = values.pop(0)
        pos += 4 + size
    return csize, usize


def _recover_truncated_zip(path: Path, budget: Budget, problems: list) -> Iterator[Member]:
    """No central directory: walk the local file headers and recover what they allow."""
    data_size = path.stat().st_size
    seen: dict[str, int] = {}
    found = 0
    with open(path, "rb") as f:
        offset = 0
        while offset + 30 <= data_size:
            f.seek(offset)
            hdr = f.read(30)
            if hdr[:4] != b"PK\x03\x04":
                break
            (_, _, flags, method, _, _, _, csize, usize, nlen, xlen) = struct.unpack("<IHHHHHIIIHH", hdr)
            name = f.read(nlen).decode("utf-8" if flags & 0x800 else "cp437", "replace")
            csize, usize = _zip64_sizes(f.read(xlen), csize, usize)
            start = offset + 30 + nlen + xlen
            if flags & 0x8:   # sizes follow the data (streamed writer): only a Deflate stream shows its end
                end = _deflate_end(f, start, budget.limits.max_member_bytes) if method == 8 else None
                if end is None:
                    problems.append((name, "truncated archive: sizes of this member are only in its data "
                                     "descriptor and its end cannot be found; it and the members after it are lost"))
                    break
                csize, usize = end - start, None
            found += 1
            if found > budget.limits.max_members:
                problems.append((name, f"archive has more than {budget.limits.max_members:,} members; the rest "
                                 "is refused"))
                break
            norm, refusal = normalise_name(name)
            if refusal is None and flags & 0x1:
                refusal = "encrypted member: cannot be read without the password"
            if refusal is None and method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                refusal = (f"compression method {method} cannot be recovered from a truncated archive; "
                           "re-zip the collection with standard Deflate")
            blob_end = min(start + csize, data_size)
            warnings = ["recovered from a local header (no central directory)"]
            if blob_end < start + csize:
                warnings.append("member cut off by the truncation; partial content")
            if norm and not name.endswith(("/", "\\")):
                key = norm.lower()
                seen[key] = seen.get(key, 0) + 1
                if seen[key] > 1:
                    warnings.append(f"duplicate member name (copy {seen[key]}); kept as a separate file")
                    norm = duplicate_name(norm, seen[key])
                opener = (lambda s=start, e=blob_end, m=method: _LocalMemberReader(path, s, e, m))
                size = None if usize == 0 and csize > 2 else usize   # Deflate of nothing is 2 bytes; else a lie
                yield Member(norm, size, opener, budget, compressed_size=csize, refused=refusal, warnings=warnings)
            offset = start + csize
            if flags & 0x8:   # a data descriptor (12 to 24 bytes) sits between this member and the next header
                f.seek(offset)
                nxt = f.read(28).find(b"PK\x03\x04", 12)
                offset += nxt if nxt >= 0 else 16


class SourceUnreadable(OSError):
    """A source file (zip or loose file) cannot be read to its end to hash it: it has no identity, so nothing of
    it is written; the conversion of the other sources goes on."""


def source_sha256(path: Path) -> str:
    """The sha256 of a source file; SourceUnreadable when it cannot be read."""
    try:
        return sha256_file(path)
    except OSError as exc:
        raise SourceUnreadable(f"{path} cannot be read to hash it ({exc.strerror or exc}); nothing of it was "
                               "converted: check the evidence copy") from exc


def hashed_beside(work: Callable[[], str]) -> Future[str]:
    """``work`` (hashing) on a thread beside the conversion; its result where it is first needed."""
    future: Future[str] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as exc:     # an unreadable file fails the conversion where the hash is used
            future.set_exception(exc)

    threading.Thread(target=run, name="triageparse-sha256", daemon=True).start()
    return future


def open_source(path: Path, limits: Limits, exclude: frozenset[str] = frozenset(),
                digest: str | None = None,
                beside: bool = False) -> tuple[list[Member], str | Future[str], list, list]:
    """All members of a source, its identity hash, source-level problems and open spools.

    ``digest``: the source file's sha256 when known. ``beside``: the source (a file, or a folder's files)
    is hashed on a thread while it is converted, and the identity is a Future (nothing in OUT to skip).
    """
    budget = Budget(limits)
    problems: list[tuple[str, str]] = []
    spools: list = []
    if path.is_dir():
        members = []
        ident = hashlib.sha256()
        pending: list[tuple[str, Path, Future[str]]] = []     # hashed beside, in this order
        for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
            if Path(dirpath) == path:
                dirnames[:] = [d for d in dirnames if d not in exclude]
                filenames = [f for f in filenames if f not in exclude]
            for d in [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
                problems.append(((Path(dirpath) / d).relative_to(path).as_posix(),
                                 "symbolic link to a folder inside the folder; not followed"))
            dirnames.sort()
            for fn in sorted(filenames):
                fp = Path(dirpath) / fn
                rel = fp.relative_to(path).as_posix()
                if fp.is_symlink():
                    problems.append((rel, "symbolic link inside the folder; not followed"))
                    continue
                if not fp.is_file():
                    problems.append((rel, "not a regular file (pipe, socket or device); not read"))
                    continue
                future: Future[str] | None = None
                try:
                    size = fp.stat().st_size
                    if beside:
                        open(fp, "rb").close()          # unreadable: a problem now, as when it is hashed here
                        digest, future = None, Future()
                        pending.append((rel, fp, future))
                    else:
                        digest = sha256_file(fp)
                        ident.update(f"{rel}\0{digest}\n".encode())
                except OSError as exc:
                    problems.append((rel, f"cannot be read ({exc}); check the permissions of the evidence copy"))
                    continue
                m = Member(rel, size, (lambda fp=fp: open(fp, "rb")), budget, sha256=digest, read_size=size,
                           disk_path=fp, pending_sha256=future)
                members.append(m)
                if fn.lower().endswith(".zip"):
                    try:
                        zf = zipfile.ZipFile(fp)
                    except ARCHIVE_ERRORS as exc:
                        m.warnings.append(f"zip inside the folder could not be opened: {exc}")
                    else:
                        spools.append(zf)
                        members.extend(_zip_members(zf, f"{rel}/", budget, 2, problems, spools))
                if len(members) > limits.max_members:
                    problems.append((rel, f"folder has more than {limits.max_members:,} files; the rest is refused"))
                    del members[limits.max_members:]
                    return members, _folder_identity(ident, pending), problems, spools
        return members, _folder_identity(ident, pending), problems, spools
    pending = hashed_beside(lambda: source_sha256(path)) if digest is None and beside else None
    if digest is None:
        digest = pending if pending is not None else source_sha256(path)
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".zip":
        try:
            zf = zipfile.ZipFile(path)
        except ARCHIVE_ERRORS as exc:   # e.g. cut off before the central directory, or names not UTF-8
            problems.append((path.name, f"not a readable zip ({exc}); recovering members from local headers"))
            return list(_recover_truncated_zip(path, budget, problems)), digest, problems, spools
        spools.append(zf)
        return list(_zip_members(zf, "", budget, 1, problems, spools)), digest, problems, spools
    size = path.stat().st_size
    return [Member(path.name, size, (lambda: open(path, "rb")), budget, sha256=None if pending else digest,
                   read_size=size, disk_path=path, pending_sha256=pending)], digest, problems, spools


def _folder_identity(ident, pending: list[tuple[str, Path, Future[str]]]) -> str | Future[str]:
    """A folder's identity: a hash over its files' paths and hashes, in walk order. A file that cannot be read
    when it is hashed beside the conversion is left out of it, as it is when hashed before."""
    if not pending:
        return ident.hexdigest()

    def work() -> str:
        try:
            for rel, fp, future in pending:
                try:
                    digest = sha256_file(fp)
                except OSError as exc:
                    future.set_exception(exc)
                    continue
                future.set_result(digest)
                ident.update(f"{rel}\0{digest}\n".encode())
            return ident.hexdigest()
        finally:        # stopped by anything else: no member may wait for ever on its hash
            for _, _, future in pending:
                if not future.done():
                    future.set_exception(RuntimeError("hashing the folder's files stopped before this one"))
    return hashed_beside(work)


def split_collections(source: Path, members: list[Member], digest: str | Future[str], problems: list) -> list[Collection]:
    """Group members under their DFIR-<HOST>-<date> root; everything else belongs to the source itself."""
    groups: dict[str, list[Member]] = {} if members else {"": []}   # no members: still report the source
    for m in members:
        parts = m.path.split("/")
        root = ""
        for i, part in enumerate(parts[:-1]):   # the innermost root wins (zip in zip in folder)
            if DFIR_ROOT.match(part):
                root = "/".join(parts[: i + 1]) + "/"
        groups.setdefault(root, []).append(m)
    rooted = [k for k in groups if k]
    if "" in groups and len(rooted) == 1 and all(x.lower.endswith(".zip") for x in groups[""]):
        # A zip that only holds the DFIR zip (Live Response download): the container joins that collection.
        groups[rooted[0]].extend(groups.pop(""))
    out = []
    for root, ms in groups.items():
        name_part = root.rstrip("/").split("/")[-1] if root else source.name
        mt = DFIR_ROOT.match(name_part)
        host, date = (mt.group("host"), _date(mt.group("date"))) if mt else (None, None)
        for m in ms:
            if root and m.path.startswith(root):
                m.path = m.path[len(root):]
        out.append(Collection(source, root, ms, digest, host, date, problems if not out else []))
    return out


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Source:
    path: Path
    exclude: frozenset[str] = frozenset()   # names directly under a folder source that are sources themselves


def expand_inputs(inputs: list[Path]) -> list[Source]:
    """Each zip or DFIR folder inside a named folder is a source of its own; the rest of the folder is one more."""
    out: list[Source] = []
    seen: set[Path] = set()
    for p in inputs:
        if p.resolve() in seen:      # the same file named twice (shell globs overlap) is one source
            continue
        seen.add(p.resolve())
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
        if not p.is_dir() or DFIR_ROOT.match(p.name):
            out.append(Source(p))
            continue
        children = sorted(p.iterdir())
        own = [q for q in children if (q.is_file() and q.suffix.lower() == ".zip") or
               (q.is_dir() and DFIR_ROOT.match(q.name))]
        out += [Source(q) for q in own]
        rest = [q for q in children if q not in own]
        if rest:
            out.append(Source(p, frozenset(q.name for q in own)))
    return out
