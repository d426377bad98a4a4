#!/usr/bin/env python3
"""Writes hand-made fuzz_hub programs (the seeds of its corpus) to the directory given.

The byte format is fuzz_hub.cpp's: two configuration bytes, then operations. The seeds cover
each rule once (chat, back-pressure, tasks, rate limit, invalid input, declared rooms, dedup,
health and drain) so that the fuzzer starts deep; libFuzzer's -merge=1 then keeps what adds
coverage.
"""
import hashlib
import json
import os
import sys

# configuration byte 0
DECLARED, TO_SENDER, SMALL_QUEUES, TIGHT_RATE, OFFLINE, SMALL_DEDUP, FEW_INVALID, FAST_HEALTH = (
    1, 2, 4, 8, 16, 32, 64, 128)
ROOMS = ["r0", "r1", "r2", "r3", "task:t0", "task:t1", "system:health", ""]
KINDS = {"join": 0, "leave": 2, "message": 3, "assign": 6, "update": 7, "health": 8, "host": 9}


class Program:
    def __init__(self, c0=0, c1=0):
        self.b = bytearray([c0, c1])

    def open(self, slot, user):
        self.b += bytes([0, slot + 4 * user])
        return self

    def _built(self, slot, kind, p1, p2, extra=b"", prio=2, id_mode=1):
        self.b += bytes([1, slot + 4 * KINDS[kind], p1, p2]) + extra
        self.b += bytes([prio + 8 * id_mode])
        return self

    def join(self, slot, room, **kw):
        return self._built(slot, "join", ROOMS.index(room), 0, **kw)

    def leave(self, slot, room, **kw):
        return self._built(slot, "leave", ROOMS.index(room), 0, **kw)

    def say(self, slot, room, text=b"hi", meta=0, big=0, **kw):
        extra = bytes([199 + big]) if big else bytes([len(text)]) + text
        return self._built(slot, "message", ROOMS.index(room), meta, extra, **kw)

    def assign(self, slot, task, user, **kw):
        return self._built(slot, "assign", task, user + 8 * 2, **kw)

    def update(self, slot, task, progress2, **kw):
        return self._built(slot, "update", task, progress2, **kw)

    def health(self, slot, ok=True, **kw):
        return self._built(slot, "health", 0 if ok else 1, 0, **kw)

    def host(self, slot, which, **kw):  # 0 ping, 1 echo, 2 unknown type
        return self._built(slot, "host", which, 7, **kw)

    def raw(self, slot, data):
        self.b += bytes([4, slot, len(data)]) + data
        return self

    def close(self, slot, code=0):
        self.b += bytes([5, slot + 4 * code])
        return self

    def advance(self, b):
        self.b += bytes([6, b])
        return self

    def tick(self):
        self.b += bytes([7])
        return self

    def stall(self, slot):
        self.b += bytes([8, slot])
        return self

    def pop(self, slot, n):
        self.b += bytes([9, slot + 4 * (n - 1)])
        return self

    def write(self, slot, share):
        self.b += bytes([10, slot + 4 * share])
        return self

    def misc(self, b):
        self.b += bytes([11, b])
        return self

    def deadline_tick(self):
        self.b += bytes([12])
        return self


def programs(golden_dir):
    p = Program().open(0, 0).open(1, 1).open(2, 1)
    for s in range(3):
        p.join(s, "r0")
    p.say(0, "r0", b"hello").say(1, "r0", b"hi", meta=2).say(2, "r0", meta=5, prio=0)
    p.say(0, "r0", meta=4).say(1, "r0", meta=4).say(0, "r1").leave(1, "r0").say(0, "r0")
    p.say(0, "r0", b"\xff").say(0, "r0", meta=3).leave(0, "r0").leave(2, "r0").join(1, "r0")
    p.say(1, "r0", b"again").close(0).close(1).close(2)
    yield "chat", p

    p = Program(SMALL_QUEUES | TO_SENDER, 40).open(0, 0).open(1, 1).open(2, 2)
    for s in range(3):
        p.join(s, "r0")
    p.stall(1)
    for prio in (4, 3, 2, 4, 3, 0, 1):
        p.say(0, "r0", big=3, prio=prio)
    p.pop(1, 2).say(2, "r0", big=4, prio=4).write(1, 20).pop(1, 8).write(1, 63)
    for _ in range(6):
        p.say(0, "r0", big=2, prio=2)
    p.stall(1).close(1)
    yield "backpressure", p

    p = Program(OFFLINE).open(0, 0).assign(0, 0, 2).assign(0, 1, 2).assign(0, 0, 3)
    p.open(2, 2).open(3, 3).update(3, 0, 50).update(2, 1, 100).assign(2, 1, 1)
    p.join(1 - 1, "task:t0").update(3, 0, 250).update(0, 3, 10).misc(2 + 8).misc(3 + 16)
    p.close(2).assign(0, 1, 2).open(2, 2).update(0, 4, 0)
    yield "tasks", p

    p = Program(TIGHT_RATE).open(0, 1).open(1, 2).join(0, "r0").join(1, "r0")
    for _ in range(12):
        p.say(0, "r0")
    p.advance(100)
    for _ in range(12):
        p.say(0, "r0")
    p.advance(128 + 1)
    for _ in range(30):
        p.say(1, "r0", id_mode=0)
    p.advance(128 + 2)
    yield "ratelimit", p

    p = Program(FEW_INVALID).open(0, 1).open(1, 1)
    p.raw(0, b"not json").raw(0, b"[]").raw(0, b'{"type":1}').raw(0, b'{"type":"joinRoom"}')
    p.host(1, 2).host(1, 2).join(1, "r0").host(1, 2).host(1, 0).host(1, 1).host(1, 2)
    p.host(1, 2).host(1, 2).join(1, "r0").deadline_tick().advance(128 + 5).tick()
    yield "invalid", p

    p = Program(DECLARED).open(0, 0).open(1, 3)
    for room in ("r0", "r1", "r2", "task:t0", "system:health", ""):
        p.join(0, room).join(1, room)
    p.say(0, "r0").say(1, "r1").say(0, "r2").say(0, "task:t0").say(1, "system:health")
    p.leave(0, "r2").leave(0, "r0").leave(1, "task:t1").say(0, "r0")
    yield "declared", p

    p = Program(SMALL_DEDUP).open(0, 1).open(1, 1).join(0, "r0").join(1, "r0")
    for i in range(6):
        p.say(0, "r0", bytes([65 + i]))
    for i in range(6):
        p.say(0, "r0", id_mode=3 + 0)
    p.advance(128 + 3).tick().say(0, "r0", id_mode=3).say(1, "r0", id_mode=3)
    yield "dedup", p

    p = Program(FAST_HEALTH).open(0, 0).open(1, 1).join(0, "system:health").join(1, "r2")
    p.health(0).health(1).health(0, ok=False).advance(128 + 1).tick().misc(1 + 8).misc(1)
    p.say(0, "r2", meta=4).join(0, "r2").say(0, "r2", meta=4).stall(1).say(0, "r2", prio=4)
    p.misc(128).open(2, 2).tick().advance(128 + 4).tick().deadline_tick()
    yield "drain", p

    for name in sorted(os.listdir(golden_dir)):
        with open(os.path.join(golden_dir, name), "rb") as f:
            frame = json.dumps(json.load(f), separators=(",", ":")).encode()
        if len(frame) <= 255:
            p = Program().open(0, 0).open(1, 1).join(1, "r0").raw(0, frame).raw(1, frame)
            yield "golden-" + name.rsplit(".", 1)[0], p


def main():
    out = sys.argv[1]
    golden = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "protocol", "golden")
    os.makedirs(out, exist_ok=True)
    for name, p in programs(golden):
        digest = hashlib.sha1(bytes(p.b)).hexdigest()[:12]
        with open(os.path.join(out, f"seed-{name}-{digest}"), "wb") as f:
            f.write(bytes(p.b))


if __name__ == "__main__":
    main()
