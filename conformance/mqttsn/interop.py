"""MQTT-SN interop checks: the third-party mqtt-sn-12 client (PyPI) against Tern's gateway, with paho-mqtt
as an MQTT 5 client over TCP on the same broker. Every check is bounded in time. Prints one line per check
and `mqttsn-interop: N passed, N failed`; exits non-zero on any failure."""

import argparse
import logging
import queue
import signal
import sys
import time
import traceback

import paho.mqtt.client as paho
from mqttsn12.MqttSnConstants import MqttSnConstants
from mqttsn12.client.MqttSnClient import MqttSnClient, MqttSnListener
from mqttsn12.packets import PingReqPacket

WAIT = 5.0
logging.basicConfig(level=logging.ERROR)


def _alarm(_sig, _frame):
    raise TimeoutError("check took longer than 30 s")


signal.signal(signal.SIGALRM, _alarm)


class Collector(MqttSnListener):
    def __init__(self):
        self.messages = []

    def message_arrived(self, msg):
        self.messages.append((msg.get_topic_name(), bytes(msg.get_payload())))


class Mqtt:
    """An MQTT 5 client over TCP whose received messages land in a queue."""

    def __init__(self, port, client_id):
        self.q = queue.Queue()
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        self.c.on_message = lambda _c, _u, m: self.q.put((m.topic, bytes(m.payload), m.qos))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def subscribe(self, topic, qos=1):
        r, _ = self.c.subscribe(topic, qos)
        assert r == 0
        time.sleep(0.2)

    def publish(self, topic, payload, qos=1):
        self.c.publish(topic, payload, qos).wait_for_publish(WAIT)

    def expect(self, topic, payload):
        deadline = time.time() + WAIT
        while time.time() < deadline:
            try:
                t, p, _ = self.q.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                break
            if (t, p) == (topic, payload):
                return
        raise AssertionError(f"MQTT client did not receive {topic!r} {payload!r}")

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def sn_client(port, client_id, keep_alive=30, clean=True, will=None):
    c = MqttSnClient()
    c.set_client_id(client_id)
    c.set_keep_alive(keep_alive)
    c.set_timeout(int(WAIT))
    c.set_clean_session(clean)
    if will:
        c.set_will(*will)
    c.open("127.0.0.1", port)
    c.send_connect()
    return c


def poll_until(c, collector, n=1):
    deadline = time.time() + WAIT
    while time.time() < deadline and len(collector.messages) < n:
        c.polling()
        time.sleep(0.02)
    return collector.messages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sn-port", type=int, required=True)
    ap.add_argument("--tcp-port", type=int, required=True)
    a = ap.parse_args()
    sn, tcp = a.sn_port, a.tcp_port
    mqtt = Mqtt(tcp, "interop-watch")
    mqtt.subscribe("interop/#", 2)
    mqtt.subscribe("ab", 1)
    results = []

    def check(name):
        def wrap(f):
            # The library's blocking reads have no timeout: bound every check with an alarm.
            signal.alarm(30)
            try:
                f()
                results.append((name, None))
                print(f"PASS {name}")
            except Exception as e:  # noqa: BLE001 - every failure is reported, not raised
                results.append((name, e))
                print(f"FAIL {name}: {e!r}")
                traceback.print_exc(limit=3)
            finally:
                signal.alarm(0)
            return f
        return wrap

    @check("SEARCHGW answered with GWINFO")
    def _():
        c = MqttSnClient()
        c.set_timeout(int(WAIT))
        c.open("127.0.0.1", sn)
        c.send_search_gateway(1)
        c.close()

    for qos in (0, 1, 2):
        @check(f"CONNECT, REGISTER, PUBLISH QoS {qos} reaches an MQTT 5 client over TCP")
        def _(qos=qos):
            c = sn_client(sn, f"interop-pub{qos}")
            c.send_publish("interop/sn/temp", f"q{qos}".encode(), qos)
            mqtt.expect("interop/sn/temp", f"q{qos}".encode())
            c.send_disconnect()
            c.close()

    @check("PUBLISH QoS 1 to a short topic name")
    def _():
        c = sn_client(sn, "interop-short")
        c.send_publish("ab", b"short", 1)
        mqtt.expect("ab", b"short")
        c.send_disconnect()
        c.close()

    @check("PUBLISH QoS 1 to a predefined topic id")
    def _():
        c = sn_client(sn, "interop-predef")
        c.send_publish_predefined(7, b"predef", 1)
        mqtt.expect("interop/predefined", b"predef")
        c.send_disconnect()
        c.close()

    @check("PUBLISH QoS -1 without a connection (predefined id)")
    def _():
        c = MqttSnClient()
        c.set_timeout(int(WAIT))
        c.open("127.0.0.1", sn)
        c.send_publish_predefined(7, b"minus-one", -1)
        mqtt.expect("interop/predefined", b"minus-one")
        c.close()

    @check("SUBSCRIBE with wildcard: gateway REGISTERs, then delivers QoS 1 from MQTT")
    def _():
        c = sn_client(sn, "interop-sub")
        col = Collector()
        c.send_subscribe("interop/down/#", 1, col)
        mqtt.publish("interop/down/led", b"on", 1)
        got = poll_until(c, col)
        assert got == [("interop/down/led", b"on")], got
        c.send_unsubscribe("interop/down/#")
        mqtt.publish("interop/down/led", b"after-unsub", 1)
        time.sleep(0.5)
        c.polling()
        assert len(col.messages) == 1, col.messages
        c.send_disconnect()
        c.close()

    @check("SUBSCRIBE to a predefined id receives MQTT publishes")
    def _():
        c = sn_client(sn, "interop-sub-predef")
        col = Collector()
        c.send_subscribe_predefined(7, 1, col)
        mqtt.publish("interop/predefined", b"down", 1)
        got = poll_until(c, col)
        assert [p for _, p in got] == [b"down"], got
        c.send_disconnect()
        c.close()

    @check("CONNECT with will (WILLTOPICREQ/WILLMSGREQ); lost client's will reaches MQTT")
    def _():
        c = sn_client(sn, "interop-will", keep_alive=1, will=("interop/will/a", "bye", 0, False))
        c.datagram_socket.close()  # vanish without DISCONNECT
        mqtt.expect("interop/will/a", b"bye")

    @check("WILLTOPICUPD / WILLMSGUPD change the will that is published")
    def _():
        c = sn_client(sn, "interop-willupd", keep_alive=1, will=("interop/will/old", "old", 0, False))
        c.send_will_topic_update("interop/will/new")
        c.send_will_message_update("new")
        c.datagram_socket.close()
        mqtt.expect("interop/will/new", b"new")

    @check("DISCONNECT with duration: asleep; PINGREQ(client id) delivers buffered message, then PINGRESP")
    def _():
        c = sn_client(sn, "interop-sleeper", clean=False)
        col = Collector()
        # QoS 0: mqtt-sn-12 never PUBACKs a QoS 1 delivery (its polling() compares the QoS value with the
        # flag bits), so a QoS 1 delivery would stay outstanding and PINGRESP would wait behind it.
        c.send_subscribe("interop/sleep/cmd", 0, col)
        c.send_disconnect(60)
        mqtt.publish("interop/sleep/cmd", b"wake-up-call", 1)
        time.sleep(0.3)
        ping = PingReqPacket()
        ping.client_id = "interop-sleeper"
        c.send_packet(ping.encode())
        got = poll_until(c, col)
        assert [p for _, p in got] == [b"wake-up-call"], got
        assert c.wait_for(True, MqttSnConstants.TYPE_PINGRESP) is not None, "no PINGRESP after the buffered messages"
        c.send_connect()
        c.send_disconnect()
        c.close()

    mqtt.close()
    passed = sum(1 for _, e in results if e is None)
    failed = len(results) - passed
    print(f"mqttsn-interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
