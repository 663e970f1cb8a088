#!/usr/bin/env python3
"""SCRAM-SHA-256 interop: MQTT 5 enhanced authentication (section 4.12) against a broker on 127.0.0.1, written
independently of Tern's code with the Python standard library only (paho-mqtt does not handle AUTH packets).

It speaks raw MQTT 5 over a socket and does SCRAM (RFC 5802/7677) with hashlib/hmac, checking the broker's
server signature. The broker must know USER with a SCRAM-SHA-256 credential for PASSWORD
(`tern passwd add --scram FILE USER`). Prints one line per check and 'interop-scram: N passed, N failed'; exits non-zero on
any failure. Every wait is bounded.
"""
import argparse
import base64
import hashlib
import hmac
import os
import socket
import sys
import uuid

METHOD = "SCRAM-SHA-256"
TIMEOUT = 5.0


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
    return len(b).to_bytes(2, "big") + b


def binary(b):
    return len(b).to_bytes(2, "big") + b


def auth_props(data):
    props = b"\x15" + utf8(METHOD) + b"\x16" + binary(data)
    return varint(len(props)) + props


def packet(first_byte, body):
    return bytes([first_byte]) + varint(len(body)) + body


def connect_packet(client_id, client_first):
    var = utf8("MQTT") + bytes([5, 0x02]) + (30).to_bytes(2, "big") + auth_props(client_first)
    return packet(0x10, var + utf8(client_id))


def auth_packet(code, data):
    return packet(0xF0, bytes([code]) + auth_props(data))


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("broker closed the connection")
            self.buf += chunk

    def recv(self):
        """One packet: (type, body)."""
        self._need(2)
        length, mult, i = 0, 1, 1
        while True:
            self._need(i + 1)
            b = self.buf[i]
            length += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        self._need(i + length)
        kind, body = self.buf[0] >> 4, self.buf[i:i + length]
        self.buf = self.buf[i + length:]
        return kind, body

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except OSError:
            return True


def parse_props(body):
    """Properties at the start of body -> dict of auth method/data."""
    length, mult, i = 0, 1, 0
    while True:
        b = body[i]
        length += (b & 0x7F) * mult
        mult *= 128
        i += 1
        if not b & 0x80:
            break
    props, end = {}, i + length
    while i < end:
        pid = body[i]
        i += 1
        if pid in (0x15, 0x1F, 0x12, 0x1A, 0x1C):  # strings
            n = int.from_bytes(body[i:i + 2], "big")
            props[pid] = body[i + 2:i + 2 + n]
            i += 2 + n
        elif pid == 0x16:  # binary
            n = int.from_bytes(body[i:i + 2], "big")
            props[pid] = body[i + 2:i + 2 + n]
            i += 2 + n
        elif pid == 0x26:  # user property: two strings
            for _ in range(2):
                n = int.from_bytes(body[i:i + 2], "big")
                i += 2 + n
        elif pid in (0x11, 0x27):  # four-byte integers
            i += 4
        elif pid in (0x13, 0x21, 0x22):  # two-byte integers
            i += 2
        elif pid in (0x24, 0x25, 0x28, 0x29, 0x2A):  # bytes
            i += 1
        else:
            raise ValueError(f"unexpected property 0x{pid:02x}")
    return props


class Scram:
    def __init__(self, user, password):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = f"n={name},r={self.nonce}"
        self.server_signature = None

    def client_first(self):
        return ("n,," + self.first_bare).encode()

    def client_final(self, server_first):
        sf = server_first.decode()
        attrs = dict(p.split("=", 1) for p in sf.split(","))
        assert attrs["r"].startswith(self.nonce) and attrs["r"] != self.nonce, "server nonce must extend ours"
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth_message = f"{self.first_bare},{sf},{without_proof}".encode()
        signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def verify(self, server_final):
        text = server_final.decode()
        return text.startswith("v=") and hmac.compare_digest(base64.b64decode(text[2:]), self.server_signature)


def scram_connect(args, password):
    """CONNECT with SCRAM; returns (conn, connack reason code, scram, connack props)."""
    c = Conn(args.host, args.port)
    s = Scram(args.user, password)
    c.send(connect_packet("scram-" + uuid.uuid4().hex[:8], s.client_first()))
    kind, body = c.recv()
    if kind == 2:  # refused at once
        return c, body[1], s, parse_props(body[2:])
    assert kind == 15 and body[0] == 0x18, f"expected AUTH 0x18, got type {kind}"
    props = parse_props(body[1:])
    assert props[0x15] == METHOD.encode(), "[MQTT-4.12.0-5] AUTH repeats the method"
    c.send(auth_packet(0x18, s.client_final(props[0x16])))
    kind, body = c.recv()
    assert kind == 2, f"expected CONNACK, got type {kind}"
    return c, body[1], s, parse_props(body[2:])


def check_login(args):
    c, code, s, props = scram_connect(args, args.password)
    assert code == 0, f"CONNACK 0x{code:02x}"
    assert props.get(0x15) == METHOD.encode(), "[MQTT-4.12.0-5] CONNACK repeats the method"
    assert s.verify(props[0x16]), "the broker's server signature verifies"
    c.send(packet(0xC0, b""))  # PINGREQ: the session works
    assert c.recv()[0] == 13


def check_wrong_password(args):
    c, code, _, _ = scram_connect(args, args.password + "x")
    assert code == 0x86, f"expected 0x86, got 0x{code:02x}"
    assert c.closed()


def check_reauthentication(args):
    c, code, _, _ = scram_connect(args, args.password)
    assert code == 0
    s = Scram(args.user, args.password)
    c.send(auth_packet(0x19, s.client_first()))
    kind, body = c.recv()
    assert kind == 15 and body[0] == 0x18, "re-authentication continues with AUTH 0x18"
    c.send(auth_packet(0x18, s.client_final(parse_props(body[1:])[0x16])))
    kind, body = c.recv()
    assert kind == 15 and body[0] == 0x00, "re-authentication ends with AUTH 0x00"
    assert s.verify(parse_props(body[1:])[0x16])
    # A failed re-authentication disconnects [MQTT-4.12.1-2].
    bad = Scram(args.user, args.password + "x")
    c.send(auth_packet(0x19, bad.client_first()))
    kind, body = c.recv()
    c.send(auth_packet(0x18, bad.client_final(parse_props(body[1:])[0x16])))
    kind, body = c.recv()
    assert kind == 14 and body[0] == 0x87, f"expected DISCONNECT 0x87, got type {kind}"
    assert c.closed()


def check_unknown_method(args):
    c = Conn(args.host, args.port)
    props = b"\x15" + utf8("NO-SUCH-METHOD")
    var = utf8("MQTT") + bytes([5, 0x02]) + (30).to_bytes(2, "big") + varint(len(props)) + props
    c.send(packet(0x10, var + utf8("scram-unknown")))
    kind, body = c.recv()
    assert kind == 2 and body[1] == 0x8C, "[MQTT-4.12.0-1] unknown method: CONNACK 0x8C"
    assert c.closed()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    args = ap.parse_args()
    passed = failed = 0
    for check in (check_login, check_wrong_password, check_reauthentication, check_unknown_method):
        try:
            check(args)
            print(f"ok   scram {check.__name__[6:]}")
            passed += 1
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            print(f"FAIL scram {check.__name__[6:]}: {type(e).__name__}: {e}")
            failed += 1
    print(f"interop-scram: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
