"""The random-nonce pool behind every envelope: fresh, unique across threads and across fork."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from bastion.crypto import _primitives
from bastion.crypto._primitives import NONCE_BYTES, pooled_nonce, random_nonce


def test_nonces_are_96_bits_and_never_repeat_across_refills() -> None:
    seen = {random_nonce() for _ in range(10 * _primitives._POOL_NONCES + 7)}
    assert len(seen) == 10 * _primitives._POOL_NONCES + 7
    assert {len(n) for n in seen} == {NONCE_BYTES}


def test_the_pooled_path_raises_when_empty_and_random_nonce_refills() -> None:
    _primitives._nonces.clear()
    with pytest.raises(IndexError):
        pooled_nonce()
    first = random_nonce()
    assert len(_primitives._nonces) == _primitives._POOL_NONCES - 1
    assert pooled_nonce() != first


def test_threads_never_take_the_same_nonce() -> None:
    _primitives._nonces.clear()
    taken: list[list[bytes]] = [[] for _ in range(8)]

    def work(out: list[bytes]) -> None:
        for _ in range(3000):
            out.append(random_nonce())

    threads = [threading.Thread(target=work, args=(out,)) for out in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [n for out in taken for n in out]
    assert len(set(every)) == len(every) == 8 * 3000


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_a_forked_child_never_reuses_the_parents_pool() -> None:
    random_nonce()  # the pool now holds nonces the parent has not used yet
    parents_next = list(_primitives._nonces)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, b"".join(random_nonce() for _ in range(_primitives._POOL_NONCES)))
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    child = {data[i : i + NONCE_BYTES] for i in range(0, len(data), NONCE_BYTES)}
    assert len(child) == _primitives._POOL_NONCES
    assert child.isdisjoint(parents_next)
