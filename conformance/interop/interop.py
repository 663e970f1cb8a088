#!/usr/bin/env python3
"""Interop checks: third-party MQTT clients (paho-mqtt, mosquitto_pub/sub) against a broker on 127.0.0.1.

Every check is bounded in time and uses unique client ids and topics, so it can run against any broker.
Prints one line per check and a closing 'N passed, N failed' line; exits non-zero on any failure.
"""
import argparse
import queue
import subprocess
import sys
import time
import traceback
import uuid

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

HOST = "127.0.0.1"
PORT = 1883
WAIT = 5.0
RUN = uuid.uuid4().hex[:8]
LEVELS = {"3.1.1": mqtt.MQTTv311, "5": mqtt.MQTTv5}


def topic(name):
    return f"interop/{RUN}/{name}"


class Client:
    """A paho client with a message queue and bounded waits."""

    def __init__(self, level, client_id=None, clean=True, session_expiry=None, will=None):
        self.level = level
        self.v5 = level == mqtt.MQTTv5
        cid = client_id or f"interop-{uuid.uuid4().hex[:10]}"
        if self.v5:
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=level)
        else:
            self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=cid, protocol=level, clean_session=clean)
        self.messages = queue.Queue()
        self.connack = queue.Queue()
        self.subacks = queue.Queue()
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_connect = lambda c, u, flags, rc, props: self.connack.put((flags, rc, props))
        self.c.on_subscribe = lambda c, u, mid, rcs, props: self.subacks.put(rcs)
        if will:
            self.c.will_set(*will[:4], properties=will[4] if len(will) > 4 else None)
        props = None
        if self.v5:
            props = Properties(PacketTypes.CONNECT)
            if session_expiry is not None:
                props.SessionExpiryInterval = session_expiry
        if self.v5:
            self.c.connect(HOST, PORT, keepalive=30, clean_start=clean, properties=props)
        else:
            self.c.connect(HOST, PORT, keepalive=30)
        self.c.loop_start()
        flags, rc, _ = self.connack.get(timeout=WAIT)
        if rc != 0:
            raise AssertionError(f"CONNACK refused: {rc}")
        self.session_present = flags.session_present

    def subscribe(self, t, qos=0, options=None, props=None):
        if self.v5:
            opts = options or SubscribeOptions(qos=qos)
            self.c.subscribe(t, options=opts, properties=props)
        else:
            self.c.subscribe(t, qos)
        rcs = self.subacks.get(timeout=WAIT)
        return rcs

    def publish(self, t, payload, qos=0, retain=False, props=None):
        info = self.c.publish(t, payload, qos=qos, retain=retain, properties=props)
        if qos > 0:
            info.wait_for_publish(timeout=WAIT)
            assert info.is_published(), "publish not acknowledged in time"

    def recv(self, timeout=WAIT):
        return self.messages.get(timeout=timeout)

    def expect_none(self, timeout=0.7):
        try:
            m = self.messages.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message on {m.topic}: {m.payload!r}")

    def drop(self):
        """Close the socket without DISCONNECT: an abnormal close, as a crashed client would."""
        self.c.loop_stop()
        self.c.socket().close()

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


CHECKS = []


def check(levels=("3.1.1", "5")):
    def wrap(fn):
        for name in levels:
            CHECKS.append((f"{fn.__name__}[{name}]", fn, LEVELS[name]))
        return fn
    return wrap


@check()
def pubsub_each_qos(level):
    for qos in (0, 1, 2):
        t = topic(f"qos{qos}-{level}")
        sub = Client(level)
        sub.subscribe(t, qos)
        pub = Client(level)
        pub.publish(t, f"hello {qos}".encode(), qos=qos)
        m = sub.recv()
        assert m.payload == f"hello {qos}".encode() and m.qos == qos, (m.payload, m.qos)
        sub.close(); pub.close()


@check()
def wildcards(level):
    sub = Client(level)
    sub.subscribe(topic("w/+/temp"), 1)
    sub.subscribe(topic("w/kitchen/#"), 1)
    pub = Client(level)
    pub.publish(topic("w/hall/temp"), b"1", qos=1)
    pub.publish(topic("w/kitchen/light/on"), b"2", qos=1)
    pub.publish(topic("w/hall/light"), b"3", qos=1)
    got = sorted(sub.recv().payload for _ in range(2))
    assert got == [b"1", b"2"], got
    sub.expect_none()
    sub.close(); pub.close()


@check()
def retained_set_replace_delete(level):
    t = topic(f"retained-{level}")
    pub = Client(level)
    pub.publish(t, b"first", qos=1, retain=True)
    pub.publish(t, b"second", qos=1, retain=True)
    sub = Client(level)
    sub.subscribe(t, 1)
    m = sub.recv()
    assert m.payload == b"second" and m.retain, (m.payload, m.retain)
    sub.close()
    pub.publish(t, b"", qos=1, retain=True)
    sub = Client(level)
    sub.subscribe(t, 1)
    sub.expect_none()
    sub.close(); pub.close()


@check()
def will_on_abnormal_close(level):
    t = topic(f"will-{level}")
    sub = Client(level)
    sub.subscribe(t, 1)
    dying = Client(level, will=(t, b"gone", 1, False))
    dying.drop()
    m = sub.recv()
    assert m.payload == b"gone", m.payload
    sub.close()


@check()
def no_will_on_clean_disconnect(level):
    t = topic(f"nowill-{level}")
    sub = Client(level)
    sub.subscribe(t, 1)
    leaving = Client(level, will=(t, b"gone", 1, False))
    leaving.close()
    sub.expect_none()
    sub.close()


@check()
def persistent_session_queues_while_offline(level):
    t = topic(f"persist-{level}")
    cid = f"interop-persist-{uuid.uuid4().hex[:8]}"
    sub = Client(level, client_id=cid, clean=False, session_expiry=300)
    sub.subscribe(t, 1)
    sub.close()
    pub = Client(level)
    for i in range(5):
        pub.publish(t, f"m{i}".encode(), qos=1)
    sub = Client(level, client_id=cid, clean=False, session_expiry=300)
    assert sub.session_present, "session not present on reconnect"
    got = [sub.recv().payload for _ in range(5)]
    assert got == [f"m{i}".encode() for i in range(5)], got
    sub.close()
    # Clean up the session.
    Client(level, client_id=cid, clean=True).close()
    pub.close()


@check()
def shared_subscription_balances(level):
    t = topic(f"shared-{level}")
    a, b = Client(level), Client(level)
    a.subscribe(f"$share/g{RUN}/{t}", 1)
    b.subscribe(f"$share/g{RUN}/{t}", 1)
    pub = Client(level)
    for i in range(10):
        pub.publish(t, str(i).encode(), qos=1)
    got = []
    deadline = time.time() + WAIT
    while len(got) < 10 and time.time() < deadline:
        for c in (a, b):
            try:
                got.append((c, c.recv(timeout=0.1).payload))
            except queue.Empty:
                pass
    assert sorted(int(p) for _, p in got) == list(range(10)), got
    assert any(c is a for c, _ in got) and any(c is b for c, _ in got), "one member got everything"
    a.close(); b.close(); pub.close()


@check(levels=("5",))
def v5_properties_pass_through(level):
    t = topic("props")
    sub = Client(level)
    sub.subscribe(t, 1)
    pub = Client(level)
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("a", "1"), ("b", "2"), ("a", "3")]
    props.ContentType = "text/plain"
    props.ResponseTopic = topic("reply")
    props.CorrelationData = b"\x01\x02"
    props.PayloadFormatIndicator = 1
    props.MessageExpiryInterval = 60
    pub.publish(t, b"p", qos=1, props=props)
    m = sub.recv()
    p = m.properties
    assert p.UserProperty == [("a", "1"), ("b", "2"), ("a", "3")], p.UserProperty
    assert p.ContentType == "text/plain" and p.ResponseTopic == topic("reply"), p
    assert p.CorrelationData == b"\x01\x02" and p.PayloadFormatIndicator == 1, p
    assert 0 < p.MessageExpiryInterval <= 60, p.MessageExpiryInterval
    sub.close(); pub.close()


@check(levels=("5",))
def v5_subscription_identifier_and_no_local(level):
    t = topic("subid")
    c = Client(level)
    props = Properties(PacketTypes.SUBSCRIBE)
    props.SubscriptionIdentifier = 42
    c.subscribe(t, options=SubscribeOptions(qos=1, noLocal=True), props=None)
    c.subscribe(topic("subid2"), 1, props=props)
    c.publish(t, b"mine", qos=1)
    c.expect_none()
    other = Client(level)
    other.publish(topic("subid2"), b"x", qos=1)
    m = c.recv()
    assert m.properties.SubscriptionIdentifier == [42], m.properties
    c.close(); other.close()


def run_cli(args, timeout=WAIT + 5):
    return subprocess.run(args, capture_output=True, timeout=timeout, text=True)


@check()
def mosquitto_pub_to_paho(level):
    t = topic(f"mosq-pub-{level}")
    sub = Client(level)
    sub.subscribe(t, 1)
    v = "mqttv5" if level == mqtt.MQTTv5 else "mqttv311"
    r = run_cli(["mosquitto_pub", "-h", HOST, "-p", str(PORT), "-V", v, "-t", t, "-m", "from mosquitto", "-q", "1"])
    assert r.returncode == 0, r.stderr
    assert sub.recv().payload == b"from mosquitto"
    sub.close()


@check()
def paho_to_mosquitto_sub(level):
    t = topic(f"mosq-sub-{level}")
    v = "mqttv5" if level == mqtt.MQTTv5 else "mqttv311"
    proc = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", str(PORT), "-V", v, "-t", t, "-q", "2", "-C", "1",
                             "-W", str(int(WAIT) + 2)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    pub = Client(level)
    pub.publish(t, b"to mosquitto", qos=2)
    out, err = proc.communicate(timeout=WAIT + 5)
    assert proc.returncode == 0 and out.strip() == "to mosquitto", (proc.returncode, out, err)
    pub.close()


@check()
def mosquitto_retained_and_sys(level):
    v = "mqttv5" if level == mqtt.MQTTv5 else "mqttv311"
    r = run_cli(["mosquitto_sub", "-h", HOST, "-p", str(PORT), "-V", v, "-t", "$SYS/broker/uptime", "-C", "1",
                 "-W", str(int(WAIT))])
    assert r.returncode == 0 and r.stdout.strip(), (r.returncode, r.stdout, r.stderr)


def main():
    global HOST, PORT
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--host", default=HOST)
    ap.add_argument("--port", type=int, default=PORT)
    args = ap.parse_args()
    HOST, PORT = args.host, args.port
    passed = failed = 0
    for name, fn, level in CHECKS:
        start = time.time()
        try:
            fn(level)
            passed += 1
            print(f"PASS {name} ({time.time() - start:.2f}s)", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc(limit=2)
    print(f"interop: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
