//! Stripe webhook signatures and envelopes.
//!
//! The signature is verified here, over the raw body, with HMAC-SHA256 and
//! a constant-time compare (async-stripe's `construct_event` would also
//! parse the full typed event and fail on shapes its API version does not
//! expect). The envelope is then read into lean structs: only the fields
//! we use, everything else kept as raw JSON.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Stripe's default tolerance: older (or later) timestamps are replays.
pub const TOLERANCE_SECONDS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing Stripe-Signature header")]
    Missing,
    #[error("malformed Stripe-Signature header")]
    Malformed,
    #[error("no v1 signature in the header")]
    NoV1Signature,
    #[error("timestamp outside the tolerance")]
    OutsideTolerance,
    #[error("no signature matches")]
    NoMatch,
}

/// Verifies `header` (`t=...,v1=...[,v1=...][,v0=...]`) for `body` with
/// `secret`, at time `now` (unix seconds). Any one `v1` may match: during a
/// secret rotation Stripe sends one per secret.
pub fn verify_signature(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                timestamp = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| SignatureError::Malformed)?,
                )
            }
            "v1" => {
                // A v1 that is not hex cannot match; it must not hide a valid one.
                if let Ok(bytes) = hex::decode(value) {
                    signatures.push(bytes);
                }
            }
            _ => {} // v0 and future schemes are ignored, as Stripe's SDKs do.
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::NoV1Signature);
    }
    if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance);
    }
    for signature in &signatures {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .map_err(|_| SignatureError::NoMatch)?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // `verify_slice` compares in constant time.
        if mac.verify_slice(signature).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::NoMatch)
}

/// `t=<now>,v1=<hmac>`: how the sandbox signs the events it delivers.
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The event envelope: `id`, `type`, `data.object`, and what says where
/// and when it was made.
#[derive(Clone, Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Unix seconds: when the provider made the event (and its snapshot of
    /// the object). Absent in some thin events.
    #[serde(default)]
    pub created: Option<i64>,
    /// Test or live mode; must match the secret key's.
    #[serde(default)]
    pub livemode: Option<bool>,
    /// The API version the object is rendered in.
    #[serde(default)]
    pub api_version: Option<String>,
    /// Absent in "thin" events; then `object` is null.
    #[serde(default)]
    pub data: EnvelopeData,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct EnvelopeData {
    #[serde(default)]
    pub object: serde_json::Value,
}

/// Stripe's amounts have at most 12 digits. Anything else is refused as
/// unreadable: sums of amounts must never overflow, nor go negative.
pub const MAX_AMOUNT: i64 = 999_999_999_999;

fn amount<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let value = i64::deserialize(deserializer)?;
    if (0..=MAX_AMOUNT).contains(&value) {
        Ok(value)
    } else {
        Err(serde::de::Error::custom(format!(
            "amount {value} is outside 0..={MAX_AMOUNT}"
        )))
    }
}

/// An id, or the object itself when expanded: its id either way.
fn id_or_object<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(
        match Option::<serde_json::Value>::deserialize(deserializer)? {
            Some(serde_json::Value::String(id)) => Some(id),
            Some(serde_json::Value::Object(object)) => object
                .get("id")
                .and_then(|id| id.as_str())
                .map(str::to_owned),
            _ => None,
        },
    )
}

/// The fields of a PaymentIntent event we use.
#[derive(Debug, Deserialize)]
pub struct IntentObject {
    pub id: String,
    #[serde(deserialize_with = "amount")]
    pub amount: i64,
    pub currency: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub metadata: std::collections::BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub last_payment_error: Option<PaymentError>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub latest_charge: Option<String>,
}

impl IntentObject {
    /// A metadata value kasir put there, if it is a string.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(|v| v.as_str())
    }
}

#[derive(Debug, Deserialize)]
pub struct PaymentError {
    #[serde(default)]
    pub message: Option<String>,
}

/// The fields of a Charge (`charge.refunded`) we use.
#[derive(Debug, Deserialize)]
pub struct ChargeObject {
    pub id: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "amount")]
    pub amount: i64,
    /// Cumulative: everything refunded on this charge so far.
    #[serde(deserialize_with = "amount")]
    pub amount_refunded: i64,
    pub currency: String,
    /// The charge's refunds, when the event includes them.
    #[serde(default)]
    pub refunds: Option<RefundList>,
}

#[derive(Debug, Deserialize)]
pub struct RefundList {
    #[serde(default)]
    pub data: Vec<RefundObject>,
}

/// The fields of a Refund we use.
#[derive(Debug, Deserialize)]
pub struct RefundObject {
    pub id: String,
    #[serde(deserialize_with = "amount")]
    pub amount: i64,
    pub currency: String,
    /// `pending`, `requires_action`, `succeeded`, `failed`, `canceled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub charge: Option<String>,
}

/// The fields of a Dispute we use.
#[derive(Debug, Deserialize)]
pub struct DisputeObject {
    pub id: String,
    #[serde(default, deserialize_with = "id_or_object")]
    pub payment_intent: Option<String>,
    #[serde(default, deserialize_with = "id_or_object")]
    pub charge: Option<String>,
    #[serde(deserialize_with = "amount")]
    pub amount: i64,
    pub currency: String,
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{}}}"#;
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_signature_made_with_the_secret_verifies() {
        let header = sign(BODY, SECRET, NOW);
        assert_eq!(verify_signature(Some(&header), BODY, SECRET, NOW), Ok(()));
        assert_eq!(
            verify_signature(Some(&header), BODY, SECRET, NOW + 299),
            Ok(())
        );
    }

    #[test]
    fn wrong_secret_tampered_body_and_bad_headers_are_refused() {
        let header = sign(BODY, SECRET, NOW);
        assert_eq!(
            verify_signature(Some(&header), BODY, "whsec_other", NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature(Some(&header), b"{}", SECRET, NOW),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify_signature(None, BODY, SECRET, NOW),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(Some("garbage"), BODY, SECRET, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some("t=abc,v1=00"), BODY, SECRET, NOW),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify_signature(Some(&format!("v1={}", "00".repeat(32))), BODY, SECRET, NOW),
            Err(SignatureError::Malformed)
        );
        let only_v0 = header.replace("v1=", "v0=");
        assert_eq!(
            verify_signature(Some(&only_v0), BODY, SECRET, NOW),
            Err(SignatureError::NoV1Signature)
        );
    }

    #[test]
    fn old_and_future_timestamps_are_refused() {
        let old = sign(BODY, SECRET, NOW - 301);
        assert_eq!(
            verify_signature(Some(&old), BODY, SECRET, NOW),
            Err(SignatureError::OutsideTolerance)
        );
        let future = sign(BODY, SECRET, NOW + 301);
        assert_eq!(
            verify_signature(Some(&future), BODY, SECRET, NOW),
            Err(SignatureError::OutsideTolerance)
        );
    }

    #[test]
    fn any_v1_may_match_during_a_rotation() {
        let good = sign(BODY, SECRET, NOW);
        let v1 = good.split(",v1=").nth(1).unwrap();
        let header = format!("t={NOW},v1={},v1=nothex,v1={v1},v0=abc", "ab".repeat(32));
        assert_eq!(verify_signature(Some(&header), BODY, SECRET, NOW), Ok(()));
    }

    /// `latest_charge`, `charge`, `payment_intent`: an id, or the object
    /// itself when expanded, in Stripe's own fixture shapes.
    #[test]
    fn a_reference_is_read_as_an_id_or_as_the_expanded_objects_id() {
        use crate::payments::stripe_json::{self, Intent};
        let intent = |latest_charge: serde_json::Value| {
            let mut object = stripe_json::payment_intent(&Intent {
                id: "pi_1",
                amount: 1000,
                currency: "usd",
                status: "succeeded",
                metadata: serde_json::json!({}),
                last_error: None,
                latest_charge: None,
            });
            object["latest_charge"] = latest_charge;
            serde_json::from_value::<IntentObject>(object).map(|intent| intent.latest_charge)
        };
        let expanded = stripe_json::charge("ch_expanded", "pi_1", 1000, 0, "usd");
        assert_eq!(intent("ch_1".into()).unwrap().as_deref(), Some("ch_1"));
        assert_eq!(
            intent(expanded.clone()).unwrap().as_deref(),
            Some("ch_expanded")
        );
        assert_eq!(intent(serde_json::Value::Null).unwrap(), None);
        assert_eq!(
            intent(serde_json::json!({"object": "charge"})).unwrap(),
            None
        );

        let mut dispute = stripe_json::dispute("dp_1", "pi_1", "ch_1", 1000, "usd", "lost");
        dispute["charge"] = expanded;
        let dispute: DisputeObject = serde_json::from_value(dispute).unwrap();
        assert_eq!(dispute.charge.as_deref(), Some("ch_expanded"));
        assert_eq!(dispute.payment_intent.as_deref(), Some("pi_1"));
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::super::*;

        /// Headers shaped like Stripe's, with hostile numbers and junk.
        fn header() -> impl Strategy<Value = String> {
            let part = prop_oneof![
                any::<i64>().prop_map(|t| format!("t={t}")),
                "[0-9a-fA-F]{0,80}".prop_map(|h| format!("v1={h}")),
                "[ -~]{0,20}".prop_map(|junk| format!("v0={junk}")),
                "[ -~]{0,30}",
                ".{0,10}",
            ];
            proptest::collection::vec(part, 0..6).prop_map(|parts| parts.join(","))
        }

        proptest! {
            #[test]
            fn any_header_and_body_is_refused_never_a_panic(
                header in header(),
                raw in ".{0,200}",
                body in proptest::collection::vec(any::<u8>(), 0..300),
                now in any::<i64>(),
            ) {
                prop_assert!(verify_signature(Some(&header), &body, "whsec_x", now).is_err());
                prop_assert!(verify_signature(Some(&raw), &body, "whsec_x", now).is_err());
            }

            #[test]
            fn only_the_signed_body_at_its_time_verifies(
                body in proptest::collection::vec(any::<u8>(), 1..300),
                flip in any::<proptest::sample::Index>(),
                skew in -300i64..=300,
            ) {
                let header = sign(&body, "whsec_x", 1_800_000_000);
                prop_assert_eq!(verify_signature(Some(&header), &body, "whsec_x", 1_800_000_000 + skew), Ok(()));
                prop_assert_eq!(verify_signature(Some(&header), &body, "whsec_y", 1_800_000_000), Err(SignatureError::NoMatch));
                let mut tampered = body.clone();
                tampered[flip.index(body.len())] ^= 0x01;
                prop_assert_eq!(verify_signature(Some(&header), &tampered, "whsec_x", 1_800_000_000), Err(SignatureError::NoMatch));
                prop_assert_eq!(
                    verify_signature(Some(&header), &body, "whsec_x", 1_800_000_301),
                    Err(SignatureError::OutsideTolerance)
                );
            }

            #[test]
            fn any_json_is_an_envelope_or_an_error_never_a_panic(raw in ".{0,300}") {
                let _ = serde_json::from_str::<Envelope>(&raw);
            }
        }
    }
}
