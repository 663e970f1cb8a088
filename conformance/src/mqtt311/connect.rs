//! MQTT 3.1.1 CONNECT / CONNACK statements: registered on the shared tests of `mqtt5::connect` where the
//! behaviour is the same, plus the 3.1.1-only ones.

use crate::cases;
use crate::config::Protocol::V311;
use crate::mqtt5::connect::*;
use crate::registry::TestCase;

/// The 3.1.1 connect tests.
pub fn tests() -> Vec<TestCase> {
    cases!(V311;
        "MQTT-3.1.0-2" => second_connect,
        "MQTT-3.1.2-1" => bad_protocol_name,
        "MQTT-3.1.2-2" => unsupported_level_v3,
        "MQTT-3.2.2-4" => refused_session_present_0_v3,
        "MQTT-3.2.2-5" => refused_then_closed_v3,
        "MQTT-3.1.2-3" => reserved_flag,
        "MQTT-3.1.2-6" => clean_start_discards,
        "MQTT-3.1.4-3" => clean_start_discards,
        "MQTT-3.2.2-1" => clean_start_discards,
        "MQTT-3.1.2-4" => session_resumed,
        "MQTT-3.1.3-2" => session_resumed,
        "MQTT-3.2.2-2" => session_resumed,
        "MQTT-3.2.2-3" => new_session_present_0,
        "MQTT-3.1.2-5" => offline_messages_kept,
        "MQTT-4.5.0-1" => offline_messages_kept,
        "MQTT-3.1.3-5" => client_id_23,
        "MQTT-3.1.3-6" => empty_client_id,
        "MQTT-3.1.3-8" => empty_client_id_persistent_v3,
        "MQTT-3.1.4-1" => malformed_connect,
        "MQTT-3.1.4-2" => takeover,
        "MQTT-3.1.4-4" => connack_first_and_once,
        "MQTT-3.2.0-1" => connack_first_and_once,
        "MQTT-3.1.4-5" => nothing_after_refused_connect,
    )
}
