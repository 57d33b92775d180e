"""Job ids: UUIDs (RFC 9562 version 8, the vendor-defined layout) that carry the job's row
number, so a job is found by id with a rowid lookup and a new job adds no entry at a random
place in an id index (with uuid4 ids that one index write cost more than the rest of a job's
insert, and its scattered pages were four fifths of the WAL written).

Layout, in hex digits of the id:

    0-7    the low 32 bits of the row number, mixed with the server's key (an XOR), through a
           fixed 32-bit permutation: any eight leading digits name one job (the CLI's short
           ids), neighbours look unrelated, and servers with different keys give their
           first jobs different ids (and so different feature-branch names)
    8-11   bits 32-47 of the row number, masked with digits 0-7 so they do not read 0000
    12     8, the version
    13-15  random
    16     the RFC 9562 variant (8, 9, a or b), with two random bits
    17-31  random

74 random bits keep ids unguessable; the row number is not secret (it only counts jobs), nor is
the key (32 random bits made once per database, in its `server_keys` table; 0, the layout before
keys, for a database that already had jobs when keys came, so their ids stay valid).
Eight leading digits thus name at most one version-8 job, so an id prefix is found by row
number too (`seqs_for_short_id`), not by reading every job of its owner.
Ids made before schema 3 are random uuid4s; `seq_of` answers None for them and the jobs
module finds them through an index kept for those rows alone."""

from __future__ import annotations

import os

_MASK32 = 0xFFFFFFFF
_MUL1 = 0x7FEB352D  # "lowbias32" (C. Wellons): a well-mixing bijection on 32 bits
_MUL2 = 0x846CA68B
_INV1 = pow(_MUL1, -1, 1 << 32)
_INV2 = pow(_MUL2, -1, 1 << 32)
MAX_SEQ = (1 << 48) - 1
_LOW60 = (1 << 60) - 1


def _scramble(x: int) -> int:
    x ^= x >> 16
    x = (x * _MUL1) & _MASK32
    x ^= x >> 15
    x = (x * _MUL2) & _MASK32
    return x ^ (x >> 16)


def _unscramble(x: int) -> int:
    x ^= x >> 16
    x = (x * _INV2) & _MASK32
    x ^= (x >> 15) ^ (x >> 30)
    x = (x * _INV1) & _MASK32
    return x ^ (x >> 16)


def _high_mask(low: int) -> int:
    return (low * 0x9E3779B1 >> 13) & 0xFFFF


def new_id(seq: int, key: int = 0) -> str:
    """The id of the job in row `seq` (1 .. MAX_SEQ) on the server whose job-id key is `key`."""
    if not 0 < seq <= MAX_SEQ:
        raise ValueError(f"job row number {seq} is outside 1..{MAX_SEQ}")
    low = _scramble((seq ^ key) & _MASK32)
    high = (seq >> 32) ^ _high_mask(low)
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = (
        low << 96
        | high << 80
        | 0x8 << 76  # the version
        | (rand >> 68) << 64
        | (0x8 | rand >> 66 & 0x3) << 60  # the variant
        | rand & _LOW60
    )
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def seqs_for_short_id(short_id: str, high_water: int, key: int = 0) -> list[int]:
    """The row numbers (up to `high_water`) whose version-8 ids begin with these eight hex
    digits: one below 2**32 jobs, one more for every 2**32 after."""
    low = _unscramble(int(short_id[:8], 16)) ^ (key & _MASK32)
    return [seq for seq in range(low, high_water + 1, 1 << 32) if seq > 0]


def seq_of(job_id: str, key: int = 0) -> int | None:
    """The row number a version-8 job id carries; None for any other string (such as an id
    from before schema 3), which no row number can be derived from."""
    if len(job_id) != 36 or job_id[14] != "8" or job_id[8] != "-":
        return None
    try:
        low, high = int(job_id[:8], 16), int(job_id[9:13], 16)
    except ValueError:
        return None
    return (high ^ _high_mask(low)) << 32 | (_unscramble(low) ^ (key & _MASK32))
