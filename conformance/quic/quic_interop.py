"""MQTT-over-QUIC interop: an independent QUIC stack (aioquic, PyPI) against Tern's QUIC listener.

Tern's own tests drive its QUIC listener with Tern's quinn-based client only; here the client side is aioquic
(pure Python QUIC + its own TLS 1.3), speaking MQTT 5 on the one bidirectional stream it opens (EMQX
single-stream mode). The MQTT packets are encoded and decoded below, so nothing of Tern is on the client side.
TCP peers are mosquitto_pub and paho-mqtt. Every check is bounded in time. Prints one line per check and
`quic-interop: N passed, N failed`; exits non-zero on any failure."""

import argparse
import asyncio
import os
import socket
import ssl
import struct
import sys
import threading
import time
import traceback

import paho.mqtt.client as paho
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic import events
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.logger import QuicLogger

WAIT = 5.0  # one expected packet or message
CHECK_LIMIT = 20.0  # one whole check
CRYPTO_NO_APPLICATION_PROTOCOL = 0x100 + 120  # QUIC CRYPTO_ERROR carrying TLS alert 120

# ---------------------------------------------------------------------------------------------------------
# MQTT 5 codec (only what the checks need)

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 8: "SUBSCRIBE", 9: "SUBACK",
         12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT"}


def varint(n):
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def utf8(s):
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id, keep_alive=60, clean_start=True):
    flags = 0x02 if clean_start else 0x00
    return packet(0x10, utf8("MQTT") + bytes([5, flags]) + struct.pack("!H", keep_alive) + varint(0)
                  + utf8(client_id))


def subscribe_packet(pid, topic_filter, qos):
    return packet(0x82, struct.pack("!H", pid) + varint(0) + utf8(topic_filter) + bytes([qos]))


def publish_packet(topic, payload, qos=0, pid=None):
    body = utf8(topic) + (struct.pack("!H", pid) if qos else b"") + varint(0) + payload
    return packet(0x30 | (qos << 1), body)


def puback_packet(pid):
    return packet(0x40, struct.pack("!H", pid))  # remaining length 2: reason Success, no properties


PINGREQ_PACKET = bytes([0xC0, 0])
DISCONNECT_PACKET = bytes([0xE0, 0])  # remaining length 0: reason Normal disconnection


def read_varint(buf, pos):
    value, shift = 0, 0
    while True:
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos
        if shift > 21:
            raise ValueError("malformed variable byte integer")


class Packet:
    def __init__(self, first, body):
        self.type = first >> 4
        self.flags = first & 0x0F
        self.body = body
        self.pid = None
        self.reason = 0
        if self.type == CONNACK:
            self.session_present = bool(body[0] & 1)
            self.reason = body[1]
        elif self.type in (PUBACK, SUBACK):
            self.pid = struct.unpack_from("!H", body)[0]
            if self.type == PUBACK:
                self.reason = body[2] if len(body) > 2 else 0
            else:
                plen, pos = read_varint(body, 2)
                self.codes = list(body[pos + plen:])
        elif self.type == PUBLISH:
            self.qos = (self.flags >> 1) & 3
            tlen = struct.unpack_from("!H", body)[0]
            self.topic = body[2:2 + tlen].decode()
            pos = 2 + tlen
            if self.qos:
                self.pid = struct.unpack_from("!H", body, pos)[0]
                pos += 2
            plen, pos = read_varint(body, pos)
            self.payload = bytes(body[pos + plen:])
        elif self.type == DISCONNECT:
            self.reason = body[0] if body else 0

    def __repr__(self):
        extra = f" topic={self.topic} payload={self.payload!r}" if self.type == PUBLISH else ""
        return f"<{NAMES.get(self.type, self.type)} pid={self.pid} reason={self.reason:#x}{extra}>"


# ---------------------------------------------------------------------------------------------------------
# QUIC side


class Protocol(QuicConnectionProtocol):
    """aioquic's protocol, remembering the handshake outcome and how the connection ended."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handshake = None
        self.terminated = None

    def quic_event_received(self, event):
        if isinstance(event, events.HandshakeCompleted):
            self.handshake = event
        elif isinstance(event, events.ConnectionTerminated):
            self.terminated = event
        super().quic_event_received(event)


class Quic:
    """One QUIC connection to Tern bound to a loopback UDP socket, and the MQTT stream on it."""

    def __init__(self, port, cafile, alpn="mqtt", ticket=None):
        self.port = port
        self.logger = QuicLogger()
        self.tickets = []
        self.config = QuicConfiguration(is_client=True, alpn_protocols=[alpn], server_name="localhost",
                                        verify_mode=ssl.CERT_REQUIRED, quic_logger=self.logger,
                                        idle_timeout=30.0)
        self.config.load_verify_locations(cafile=cafile)
        if ticket is not None:
            self.config.session_ticket = ticket
        self.protocol = None
        self.transport = None
        self.reader = self.writer = None
        self.inbox = asyncio.Queue()
        self.reader_task = None
        self.closed = False

    async def _bind(self):
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        transport, _ = await loop.create_datagram_endpoint(lambda: self.protocol, sock=sock)
        return transport

    async def open(self, wait_connected=True):
        quic = QuicConnection(configuration=self.config, session_ticket_handler=self.tickets.append)
        self.protocol = Protocol(quic)
        self.transport = await self._bind()
        self.protocol.connect(("127.0.0.1", self.port), transmit=wait_connected)
        if wait_connected:
            await asyncio.wait_for(self.protocol.wait_connected(), WAIT)

    def local_port(self):
        return self.transport.get_extra_info("sockname")[1]

    async def rebind(self):
        """Move to a fresh local UDP port mid-connection (what a NAT rebinding or a network change looks like
        to the server): later packets leave from, and answers must come back to, the new socket only."""
        old = self.transport
        self.transport = await self._bind()  # connection_made points the protocol at the new transport
        old.close()

    async def open_stream(self):
        self.reader, self.writer = await self.protocol.create_stream()
        self.reader_task = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self):
        try:
            while True:
                first = (await self.reader.readexactly(1))[0]
                length, shift = 0, 0
                while True:
                    b = (await self.reader.readexactly(1))[0]
                    length |= (b & 0x7F) << shift
                    shift += 7
                    if not b & 0x80:
                        break
                body = await self.reader.readexactly(length) if length else b""
                p = Packet(first, body)
                if p.type == PUBLISH and p.qos == 1:
                    self.send(puback_packet(p.pid))
                await self.inbox.put(p)
        except (asyncio.IncompleteReadError, ConnectionError):
            await self.inbox.put(None)  # stream ended

    def send(self, data):
        self.writer.write(data)

    async def expect(self, ptype, timeout=WAIT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {NAMES[ptype]} within {timeout} s")
            try:
                p = await asyncio.wait_for(self.inbox.get(), left)
            except asyncio.TimeoutError:
                raise AssertionError(f"no {NAMES[ptype]} within {timeout} s") from None
            if p is None:
                t = self.protocol.terminated
                raise AssertionError(f"stream ended while waiting for {NAMES[ptype]}"
                                     + (f" (connection closed: code {t.error_code:#x} {t.reason_phrase!r})"
                                        if t else ""))
            if p.type == ptype:
                return p
            if p.type == DISCONNECT:
                raise AssertionError(f"server sent {p} while waiting for {NAMES[ptype]}")
            # anything else (e.g. a PUBLISH already acknowledged by the read loop) is skipped

    async def mqtt_connect(self, client_id):
        self.send(connect_packet(client_id))
        ack = await self.expect(CONNACK)
        assert ack.reason == 0, f"CONNACK reason {ack.reason:#x}"
        return ack

    async def disconnect(self):
        """MQTT DISCONNECT, then wait for Tern to end the stream and close the QUIC connection with code 0
        (single-stream mode). Closing from this side at once would drop the DISCONNECT: aioquic sends only
        CONNECTION_CLOSE for a connection being closed, not the stream data still queued."""
        self.send(DISCONNECT_PACKET)
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "Tern did not end the stream within 5 s of DISCONNECT"
            try:
                p = await asyncio.wait_for(self.inbox.get(), left)
            except asyncio.TimeoutError:
                continue
            if p is None:
                break
        await asyncio.wait_for(self.protocol.wait_closed(), max(0.1, deadline - time.monotonic()))
        t = self.protocol.terminated
        assert t.error_code == 0 and t.frame_type is None, \
            f"after DISCONNECT Tern closed with code {t.error_code:#x} {t.reason_phrase!r}, expected application code 0"
        await self.close()

    def frames(self, direction, frame_type):
        """Frames of one type this client sent or received ("packet_sent"/"packet_received"), with their
        packet header."""
        out = []
        for trace in self.logger.to_dict()["traces"]:
            for ev in trace["events"]:
                if ev["name"] == "transport:" + direction:
                    for fr in ev["data"]["frames"]:
                        if fr["frame_type"] == frame_type:
                            out.append((ev["data"]["header"], fr))
        return out

    async def close(self):
        if self.closed:
            return
        self.closed = True
        if self.reader_task is not None:
            self.reader_task.cancel()
        if self.protocol is not None:
            self.protocol.close()
            try:
                await asyncio.wait_for(self.protocol.wait_closed(), 2.0)
            except asyncio.TimeoutError:
                pass
        if self.transport is not None:
            self.transport.close()


# ---------------------------------------------------------------------------------------------------------
# TCP side


async def mosquitto_pub(tcp_port, topic, message):
    proc = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-h", "127.0.0.1", "-p", str(tcp_port), "-V", "mqttv5", "-q", "1",
        "-i", f"interop-pub-{os.getpid()}", "-t", topic, "-m", message,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), WAIT)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("mosquitto_pub did not finish within 5 s") from None
    assert proc.returncode == 0, f"mosquitto_pub exited {proc.returncode}: {out.decode().strip()}"


class PahoSubscriber:
    """An MQTT 5 subscriber over TCP (paho-mqtt)."""

    def __init__(self, tcp_port, topic):
        self.messages = []
        self.got = threading.Event()
        self.subscribed = threading.Event()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"interop-sub-{os.getpid()}",
                             protocol=paho.MQTTv5)

        def on_connect(client, _u, _f, reason, _p):
            if not reason.is_failure:
                client.subscribe(topic, 1)

        def on_message(_c, _u, m):
            self.messages.append((m.topic, bytes(m.payload), m.qos))
            self.got.set()

        self.c.on_connect = on_connect
        self.c.on_subscribe = lambda *_a: self.subscribed.set()
        self.c.on_message = on_message
        self.c.connect("127.0.0.1", tcp_port)
        self.c.loop_start()

    def stop(self):
        self.c.disconnect()
        self.c.loop_stop()


# ---------------------------------------------------------------------------------------------------------
# Checks


async def run(args):
    results = []
    state = {}

    async def check(name, body):
        try:
            detail = await asyncio.wait_for(body(), CHECK_LIMIT)
            results.append((name, None))
            print(f"PASS {name}" + (f" ({detail})" if detail else ""), flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            if isinstance(e, asyncio.TimeoutError):
                e = AssertionError(f"check took longer than {CHECK_LIMIT} s")
            results.append((name, e))
            print(f"FAIL {name}: {e}", flush=True)
            if not isinstance(e, AssertionError):
                traceback.print_exc()

    tag = f"{os.getpid()}"
    a = Quic(args.quic_port, args.cafile)
    state["a"] = a

    async def handshake_and_connect():
        await a.open()
        hs = a.protocol.handshake
        assert hs is not None and hs.alpn_protocol == "mqtt", f"ALPN negotiated: {hs and hs.alpn_protocol}"
        assert not hs.session_resumed, "first handshake claims resumption"
        await a.open_stream()
        ack = await a.mqtt_connect(f"aioquic-a-{tag}")
        assert not ack.session_present, "fresh clean-start session reported as present"
        return "TLS 1.3 verified against the dev certificate, ALPN mqtt, CONNACK 0x00"

    async def tcp_to_quic():
        a.send(subscribe_packet(1, f"quic/in/{tag}/#", 1))
        suback = await a.expect(SUBACK)
        assert suback.pid == 1 and suback.codes == [1], f"SUBACK {suback.pid} {suback.codes}"
        await mosquitto_pub(args.tcp_port, f"quic/in/{tag}/x", "from-tcp")
        p = await a.expect(PUBLISH)
        assert (p.topic, p.payload, p.qos) == (f"quic/in/{tag}/x", b"from-tcp", 1), repr(p)
        # The read loop PUBACKed it; a second delivery (DUP) would mean the PUBACK was not taken.
        await asyncio.sleep(0.3)
        assert a.inbox.empty(), f"{a.inbox.qsize()} more packet(s) after the PUBACK (re-delivery?)"
        return "QoS 1 PUBLISH received and PUBACKed"

    async def quic_to_tcp():
        sub = PahoSubscriber(args.tcp_port, f"quic/out/{tag}")
        try:
            ok = await asyncio.get_running_loop().run_in_executor(None, sub.subscribed.wait, WAIT)
            assert ok, "paho subscriber not subscribed within 5 s"
            a.send(publish_packet(f"quic/out/{tag}", b"from-quic", qos=1, pid=7))
            ack = await a.expect(PUBACK)
            assert ack.pid == 7 and ack.reason == 0, f"PUBACK pid {ack.pid} reason {ack.reason:#x}"
            got = await asyncio.get_running_loop().run_in_executor(None, sub.got.wait, WAIT)
            assert got, "paho subscriber received nothing within 5 s"
            assert sub.messages[0][:2] == (f"quic/out/{tag}", b"from-quic"), repr(sub.messages)
        finally:
            sub.stop()
        return "PUBACK 0x00, paho over TCP received it"

    async def ping():
        a.send(PINGREQ_PACKET)
        await a.expect(PINGRESP)

    async def wrong_alpn():
        bad = Quic(args.quic_port, args.cafile, alpn="h3")
        try:
            try:
                await bad.open()
            except (ConnectionError, asyncio.TimeoutError) as e:
                failure = e
            else:
                raise AssertionError(f"handshake with ALPN h3 succeeded "
                                     f"(negotiated {bad.protocol.handshake.alpn_protocol!r})")
            t = bad.protocol.terminated
            assert t is not None, f"handshake did not complete but no close was received ({failure!r})"
            assert t.error_code == CRYPTO_NO_APPLICATION_PROTOCOL, \
                f"closed with code {t.error_code:#x} {t.reason_phrase!r}, expected 0x178 no_application_protocol"
        finally:
            await bad.close()
        good = Quic(args.quic_port, args.cafile)
        try:
            await good.open()
            await good.open_stream()
            await good.mqtt_connect(f"aioquic-b-{tag}")
            await good.disconnect()
        finally:
            await good.close()
        return "h3 refused with CRYPTO_ERROR 0x178 (no_application_protocol); then an mqtt client connects"

    async def new_connection_id():
        before = {h["dcid"] for h, _ in a.frames("packet_sent", "stream")}
        a.protocol.change_connection_id()
        await mosquitto_pub(args.tcp_port, f"quic/in/{tag}/cid", "after-cid-change")
        p = await a.expect(PUBLISH)
        assert p.payload == b"after-cid-change", repr(p)
        a.send(PINGREQ_PACKET)
        await a.expect(PINGRESP)
        after = [h["dcid"] for h, _ in a.frames("packet_sent", "stream")]
        assert after[-1] not in before, f"destination CID unchanged ({after[-1]})"
        return f"destination CID now {after[-1]}, same MQTT connection"

    async def rebind_port():
        old_port = a.local_port()
        challenges = len(a.frames("packet_received", "path_challenge"))
        await a.rebind()
        a.protocol.change_connection_id()  # a migrating client should also move to a fresh CID (RFC 9000 9.5)
        a.send(PINGREQ_PACKET)  # first packet from the new address
        await a.expect(PINGRESP)
        await mosquitto_pub(args.tcp_port, f"quic/in/{tag}/moved", "after-rebind")
        p = await a.expect(PUBLISH)
        assert p.payload == b"after-rebind", repr(p)
        new_challenges = len(a.frames("packet_received", "path_challenge")) - challenges
        assert new_challenges > 0, "server never validated the new path (no PATH_CHALLENGE received)"
        return (f"UDP port {old_port} -> {a.local_port()}, server validated the new path "
                f"(PATH_CHALLENGE), same MQTT connection, no reconnect")

    async def resumption():
        # The first connection ends cleanly here; its ticket resumes the next one.
        await a.disconnect()
        assert a.tickets, "no TLS session ticket received on the first connection"
        ticket = a.tickets[-1]
        c = Quic(args.quic_port, args.cafile, ticket=ticket)
        try:
            await c.open(wait_connected=False)
            await c.open_stream()
            c.send(connect_packet(f"aioquic-c-{tag}"))  # before the handshake: goes as 0-RTT if allowed
            c.protocol.transmit()
            ack = await c.expect(CONNACK)
            assert ack.reason == 0, f"CONNACK reason {ack.reason:#x}"
            hs = c.protocol.handshake
            assert hs is not None, "CONNACK before handshake completion?"
            assert hs.session_resumed, "TLS session not resumed"
            early_offered = ticket.max_early_data_size is not None
            zero_rtt_stream = [h for h, _ in c.frames("packet_sent", "stream") if h["packet_type"] == "0RTT"]
            assert early_offered, "server's ticket does not allow early data (no max_early_data_size)"
            assert zero_rtt_stream, "CONNECT was not sent in a 0-RTT packet"
            assert hs.early_data_accepted, "server rejected the early data"
            c.send(PINGREQ_PACKET)
            await c.expect(PINGRESP)
            await c.disconnect()
        finally:
            await c.close()
        return (f"session resumed, CONNECT sent in {len(zero_rtt_stream)} 0-RTT packet(s), early data accepted, "
                f"CONNACK 0x00")

    async def skipped():
        raise AssertionError("not run: the connection of check 1 failed")

    await check("1 handshake (ALPN mqtt, dev cert verified) + CONNECT/CONNACK", handshake_and_connect)
    first_ok = results[-1][1] is None
    for name, body in [("2 TCP mosquitto_pub QoS 1 -> QUIC subscriber", tcp_to_quic),
                       ("3 QUIC publish QoS 1 -> PUBACK, TCP paho subscriber", quic_to_tcp),
                       ("4 PINGREQ -> PINGRESP", ping),
                       ("5 wrong ALPN (h3) refused, correct client still served", wrong_alpn),
                       ("6a migration: new connection ID mid-connection", new_connection_id),
                       ("6b migration: client rebinds to a new UDP port mid-connection", rebind_port),
                       ("7 resumption with session ticket + 0-RTT CONNECT", resumption)]:
        await check(name, body if first_ok or body is wrong_alpn else skipped)
    await a.close()
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quic-port", type=int, required=True)
    ap.add_argument("--tcp-port", type=int, required=True)
    ap.add_argument("--cafile", required=True)
    args = ap.parse_args()
    results = asyncio.run(run(args))
    passed = sum(1 for _, e in results if e is None)
    failed = len(results) - passed
    print(f"quic-interop: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
