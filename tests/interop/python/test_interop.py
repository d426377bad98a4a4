#!/usr/bin/python3
"""roomwire-server driven by a client we did not write: Debian's python3-websockets.

Everything here goes through the wire contract (../../../../shared/PROTOCOL.md, docs/protocol.md)
as a third-party Python developer would read it: a chat, a task assignment with progress
updates, the health channel, the error answers, the close codes and a graceful stop.

Usage: test_interop.py --server PATH/TO/roomwire-server [unittest options]
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import unittest

try:
    import websockets
except ImportError:
    sys.exit(f"{sys.executable}: no module websockets; run scripts/install-deps "
             "(Debian's python3-websockets, for /usr/bin/python3)")

SERVER = None  # path to roomwire-server, from the command line


def suite_log(origin, text):
    """What tests/support/suite_log.hpp does: the log goes to $ROOMWIRE_TEST_LOG_DIR/<pid>.log,
    which the hygiene.logs test checks for secrets after the whole run."""
    directory = os.environ.get("ROOMWIRE_TEST_LOG_DIR")
    if directory and text:
        with open(os.path.join(directory, f"{os.getpid()}.log"), "a", encoding="utf-8") as f:
            f.writelines(f"{origin}: {line}\n" for line in text.splitlines())
TIMEOUT = 10.0  # seconds for any single expected event; a failure, never a pass


class Server:
    """One roomwire-server process on 127.0.0.1 with a free port, stopped by stop()."""

    def __init__(self, *flags):
        self.tokens = tempfile.NamedTemporaryFile("w", suffix=".tokens", delete=False)
        self.tokens.write("# token userId roles\n"
                          "alice-s3cret-token alice\n"
                          "bob-s3cret-token bob\n"
                          "carol-s3cret-token carol\n"
                          "root-s3cret-token root admin\n")
        self.tokens.close()
        self.proc = subprocess.Popen(
            [SERVER, "--host", "127.0.0.1", "--port", "0", "--tokens", self.tokens.name,
             "--log-level", "debug", *flags],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on ws://127.0.0.1:"):
            self.proc.kill()
            raise RuntimeError(f"roomwire-server did not start: {line!r} {self.proc.stderr.read()}")
        self.url = line.split(" ", 2)[2].strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stderr = self.proc.stderr.read()
            suite_log("roomwire-server", self.stderr)
            self.proc.stdout.close()
            self.proc.stderr.close()
            os.unlink(self.tokens.name)
        return self.proc.returncode


class Peer:
    """A websockets connection with the envelope helpers a client author would write."""

    def __init__(self, ws, name):
        self.ws = ws
        self.name = name
        self.sent = 0

    async def send(self, type_, payload, message_id=None, **envelope):
        self.sent += 1
        env = {"type": type_, "payload": payload,
               "messageId": message_id or f"{self.name}-{self.sent}", **envelope}
        await self.ws.send(json.dumps(env))
        return env["messageId"]

    async def recv(self, type_=None):
        """The next envelope (of the given type: others, such as healthUpdate, are skipped)."""
        while True:
            env = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
            for field in ("type", "payload", "timestamp", "messageId", "priority"):
                assert field in env, f"server envelope without {field}: {env}"
            if type_ is None or env["type"] == type_:
                return env

    async def answer(self, message_id):
        """The messageReceived or error that answers the request with this messageId."""
        while True:
            env = await self.recv()
            p = env["payload"]
            if env["type"] == "messageReceived" and p["messageId"] == message_id:
                return env
            if env["type"] == "error" and p["details"].get("messageId") == message_id:
                return env

    async def request(self, type_, payload, **kw):
        return await self.answer(await self.send(type_, payload, **kw))

    async def closed(self):
        """The close code the server sent (reading and ignoring anything before it)."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), TIMEOUT)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None


def connect(server, token, **kw):
    return websockets.connect(f"{server.url}?token={token}", open_timeout=TIMEOUT, **kw)


class Interop(unittest.IsolatedAsyncioTestCase):
    def setUp(self):
        self.server = Server("--health-interval-ms", "200")

    def tearDown(self):
        code = self.server.stop()
        self.assertEqual(code, 0, "roomwire-server exits 0 on SIGTERM")
        self.assertNotIn("s3cret", self.server.stderr, "a token or a message appeared in the log")

    async def test_chat_between_two_users(self):
        async with connect(self.server, "alice-s3cret-token") as a, connect(self.server, "bob-s3cret-token") as b:
            alice, bob = Peer(a, "alice"), Peer(b, "bob")
            for p in (alice, bob):
                ack = await p.request("joinRoom", {"roomId": "lobby"})
                self.assertEqual(ack["type"], "messageReceived")
                self.assertEqual(ack["payload"]["roomId"], "lobby")
                self.assertEqual(ack["payload"]["senderId"], p.name)

            sent = []
            for i, text in enumerate(["hello bob", "ünïcødé ✓ 😀", "s3cret plans"]):
                mid = await alice.send("message", {"roomId": "lobby", "content": text},
                                       priority=1 if i == 0 else 2)
                sent.append((mid, text))
            acks = [await alice.answer(mid) for mid, _ in sent]
            for ack, seq in zip(acks, (1, 2, 3)):
                self.assertEqual(ack["type"], "messageReceived")
                self.assertEqual(ack["payload"]["seq"], seq)
                self.assertEqual(ack["payload"]["senderId"], "alice")
                self.assertEqual(ack["priority"], min(ack["priority"], 2))

            for (mid, text), ack in zip(sent, acks):
                got = await bob.recv("message")
                self.assertEqual(got["messageId"], mid)
                self.assertEqual(got["timestamp"], ack["payload"]["timestamp"])
                p = got["payload"]
                self.assertEqual((p["roomId"], p["content"], p["senderId"]), ("lobby", text, "alice"))
                self.assertEqual(p["seq"], ack["payload"]["seq"])
                self.assertEqual(p["metadata"], {"type": "text"})

            # metadata is forwarded verbatim, fields of the client's own included
            meta = {"type": "file", "fileUrl": "https://example.test/a.png", "fileName": "a.png",
                    "x-thumb": {"w": 64, "h": 48}}
            ack = await bob.request("message", {"roomId": "lobby", "content": "pic", "metadata": meta})
            self.assertEqual(ack["payload"]["seq"], 4)
            got = await alice.recv("message")
            self.assertEqual(got["payload"]["metadata"], meta)
            self.assertEqual(got["payload"]["senderId"], "bob")

    async def test_a_repeated_message_id_is_answered_again_and_delivered_once(self):
        async with connect(self.server, "alice-s3cret-token") as a, connect(self.server, "bob-s3cret-token") as b:
            alice, bob = Peer(a, "alice"), Peer(b, "bob")
            await alice.request("joinRoom", {"roomId": "r"})
            await bob.request("joinRoom", {"roomId": "r"})
            first = await alice.request("message", {"roomId": "r", "content": "once"}, message_id="dup-1")
            again = await alice.request("message", {"roomId": "r", "content": "once"}, message_id="dup-1")
            self.assertEqual(again["payload"], first["payload"])
            await alice.request("message", {"roomId": "r", "content": "next"}, message_id="dup-2")
            self.assertEqual((await bob.recv("message"))["payload"]["content"], "once")
            nxt = await bob.recv("message")
            self.assertEqual((nxt["payload"]["content"], nxt["payload"]["seq"]), ("next", 2))

    async def test_task_assignment_and_progress(self):
        async with connect(self.server, "alice-s3cret-token") as a, connect(self.server, "bob-s3cret-token") as b:
            alice, bob = Peer(a, "alice"), Peer(b, "bob")
            ack = await alice.request("taskAssign", {"taskId": "build-42", "assigneeId": "bob",
                                                     "priority": 1})
            self.assertEqual(ack["type"], "messageReceived")
            self.assertEqual(ack["payload"]["roomId"], "")
            got = await bob.recv("taskAssign")
            self.assertEqual(got["payload"]["taskId"], "build-42")
            self.assertEqual(got["payload"]["assigneeId"], "bob")
            self.assertEqual(got["payload"]["assignerId"], "alice")

            for progress, status in ((30, "running"), (80.5, "running"), (100, "done")):
                ack = await bob.request("taskUpdate", {"taskId": "build-42", "status": status,
                                                       "progress": progress,
                                                       "metadata": {"step": status}})
                self.assertEqual(ack["type"], "messageReceived")
                upd = await alice.recv("taskUpdate")
                p = upd["payload"]
                self.assertEqual((p["taskId"], p["status"], p["progress"], p["senderId"]),
                                 ("build-42", status, progress, "bob"))
                self.assertEqual(p["metadata"], {"step": status})

            # carol is neither assigner nor assignee
            async with connect(self.server, "carol-s3cret-token") as c:
                err = await Peer(c, "carol").request("taskUpdate", {"taskId": "build-42",
                                                                    "status": "x", "progress": 1})
                self.assertEqual((err["type"], err["payload"]["code"]), ("error", "4004"))

    async def test_an_offline_assignee_gets_the_task_on_connect(self):
        async with connect(self.server, "alice-s3cret-token") as a:
            await Peer(a, "alice").request("taskAssign", {"taskId": "later", "assigneeId": "carol"})
        async with connect(self.server, "carol-s3cret-token") as c:
            got = await Peer(c, "carol").recv("taskAssign")
            self.assertEqual((got["payload"]["taskId"], got["payload"]["assignerId"]), ("later", "alice"))

    async def test_health_channel(self):
        async with connect(self.server, "alice-s3cret-token") as a:
            alice = Peer(a, "alice")
            await alice.request("joinRoom", {"roomId": "system:health"})
            h = await alice.recv("healthUpdate")
            self.assertEqual(h["payload"]["status"], "ok")
            self.assertEqual(h["priority"], 3)
            for key in ("connections", "rooms", "messagesIn", "messagesOut", "messagesDropped",
                        "uptimeSeconds"):
                self.assertIsInstance(h["payload"]["metrics"][key], int, key)
            self.assertGreaterEqual(h["payload"]["metrics"]["connections"], 1)
            err = await alice.request("healthUpdate", {"status": "ok", "metrics": {}})
            self.assertEqual(err["payload"]["code"], "4004")

    async def test_error_answers(self):
        async with connect(self.server, "alice-s3cret-token") as a, connect(self.server, "bob-s3cret-token") as b:
            alice = Peer(a, "alice")
            await Peer(b, "bob").request("joinRoom", {"roomId": "bobs"})

            async def error_for(raw):
                await a.send(raw)
                env = await alice.recv("error")
                return env["payload"]

            cases = [
                # (frame, code, path, reason fragment)
                ("not json", "4002", "", None),
                ("[1,2]", "4002", "", None),
                ('{"type":"nope","payload":{},"messageId":"e1"}', "4002", None, "unknown message type"),
                ('{"type":"joinRoom","payload":{},"messageId":"e2"}', "4002", "/payload/roomId", None),
                ('{"type":"joinRoom","payload":{"roomId":7},"messageId":"e3"}', "4002", "/payload/roomId", None),
                ('{"type":"joinRoom","payload":{"roomId":"x"},"priority":7,"messageId":"e4"}', "4002", "/priority", None),
                ('{"type":"joinRoom","payload":{"roomId":"x"},"priority":null,"messageId":"e5"}', "4002", "/priority", None),
                ('{"type":"joinRoom","payload":{"roomId":"' + "r" * 129 + '"},"messageId":"e6"}', "4002", "/payload/roomId", None),
                ('{"type":"message","payload":{"roomId":"bobs","content":"hi"},"messageId":"e7"}', "4004", None, None),
                ('{"type":"message","payload":{"roomId":"nowhere","content":"hi"},"messageId":"e8"}', "4003", None, None),
                ('{"type":"taskUpdate","payload":{"taskId":"t","status":"s","progress":101},"messageId":"e9"}', "4002", "/payload/progress", None),
                ('{"type":"message","payload":{"roomId":"bobs","content":"x","metadata":{"type":"file"}},"messageId":"e10"}', "4002", "/payload/metadata/fileUrl", None),
            ]
            for frame, code, path, reason in cases:
                with self.subTest(frame=frame[:60]):
                    p = await error_for(frame)
                    self.assertEqual(p["code"], code)
                    self.assertIsInstance(p["message"], str)
                    if path is not None:
                        self.assertEqual(p["details"]["path"], path)
                        self.assertTrue(p["details"]["reason"])
                    if reason is not None:
                        self.assertIn(reason, p["details"]["reason"])
                    if frame.startswith("{"):
                        mid = json.loads(frame)["messageId"]
                        self.assertEqual(p["details"]["messageId"], mid)

            # the connection stayed open through all of that
            await alice.request("joinRoom", {"roomId": "bobs"})
            ack = await alice.request("message", {"roomId": "bobs", "content": "still here"})
            self.assertEqual(ack["type"], "messageReceived")

    async def test_system_messages_need_the_admin_role(self):
        async with connect(self.server, "alice-s3cret-token") as a, connect(self.server, "root-s3cret-token") as r:
            alice, root = Peer(a, "alice"), Peer(r, "root")
            for p in (alice, root):
                await p.request("joinRoom", {"roomId": "ops"})
            sysmsg = {"roomId": "ops", "content": "maintenance at 5", "metadata": {"type": "system"}}
            self.assertEqual((await alice.request("message", sysmsg))["payload"]["code"], "4004")
            self.assertEqual((await root.request("message", sysmsg))["type"], "messageReceived")
            got = await alice.recv("message")
            self.assertEqual(got["payload"]["metadata"]["type"], "system")

    async def test_close_codes(self):
        with self.subTest("unknown token: upgrade, then 4000"):
            async with connect(self.server, "mallory") as m:
                self.assertEqual(await Peer(m, "m").closed(), 4000)
        with self.subTest("the refusal does not tell whether a user exists"):
            refusals = set()
            for token in ("mallory", "alice", "alice-s3cret-tokenX", "bad%20token", ""):
                async with connect(self.server, token) as m:
                    try:
                        await asyncio.wait_for(m.recv(), TIMEOUT)
                    except websockets.ConnectionClosed as e:
                        refusals.add((e.rcvd.code, e.rcvd.reason))
            self.assertEqual(refusals, {(4000, "invalid authentication")})
        with self.subTest("no token at all: 4000"):
            async with websockets.connect(self.server.url, open_timeout=TIMEOUT) as m:
                self.assertEqual(await Peer(m, "m").closed(), 4000)
        with self.subTest("Authorization: Bearer is accepted"):
            async with websockets.connect(self.server.url, open_timeout=TIMEOUT,
                                          extra_headers={"Authorization": "Bearer bob-s3cret-token"}) as b:
                ack = await Peer(b, "bob").request("joinRoom", {"roomId": "lobby"})
                self.assertEqual(ack["payload"]["senderId"], "bob")
        with self.subTest("binary frame: 1003"):
            async with connect(self.server, "alice-s3cret-token") as a:
                await a.send(b'{"type":"joinRoom"}')
                self.assertEqual(await Peer(a, "a").closed(), 1003)
        with self.subTest("frame over 64 KiB: 1009"):
            async with connect(self.server, "alice-s3cret-token") as a:
                await a.send(json.dumps({"type": "message", "payload": {"roomId": "x", "content": "x" * 70000}}))
                self.assertEqual(await Peer(a, "a").closed(), 1009)
        with self.subTest("the 11th invalid message in a row: 4002"):
            async with connect(self.server, "alice-s3cret-token") as a:
                for _ in range(11):
                    await a.send("{")
                self.assertEqual(await Peer(a, "a").closed(), 4002)
        with self.subTest("wrong path: HTTP 404, no upgrade"):
            bad = self.server.url.replace("/api/ws", "/elsewhere")
            with self.assertRaises(websockets.InvalidStatusCode) as ctx:
                async with websockets.connect(bad + "?token=alice-s3cret-token", open_timeout=TIMEOUT):
                    pass
            self.assertEqual(ctx.exception.status_code, 404)

    async def test_rate_limit(self):
        self.server.stop()
        self.server = Server("--rate", "5", "--burst", "5")
        async with connect(self.server, "alice-s3cret-token") as a:
            alice = Peer(a, "alice")
            ids = [await alice.send("joinRoom", {"roomId": "r"}) for _ in range(8)]
            answers = [await alice.answer(mid) for mid in ids]
            kinds = [x["type"] if x["type"] != "error" else x["payload"]["code"] for x in answers]
            self.assertEqual(kinds[:5], ["messageReceived"] * 5)
            self.assertIn("4001", kinds[5:])
            refused = next(x for x in answers if x["type"] == "error")
            self.assertGreater(refused["payload"]["details"]["retryAfterMs"], 0)

    async def test_graceful_stop_drains_then_closes_with_1001(self):
        async with connect(self.server, "alice-s3cret-token") as a:
            alice = Peer(a, "alice")
            await alice.request("joinRoom", {"roomId": "lobby"})
            self.server.proc.send_signal(signal.SIGTERM)
            h = await alice.recv("healthUpdate")
            while h["payload"]["status"] != "draining":
                h = await alice.recv("healthUpdate")
            self.assertEqual(h["priority"], 0)
            self.assertEqual(await alice.closed(), 1001)


def main():
    global SERVER
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    args, rest = parser.parse_known_args()
    SERVER = os.path.abspath(args.server)
    unittest.main(argv=[sys.argv[0], "-v", *rest])


if __name__ == "__main__":
    main()
