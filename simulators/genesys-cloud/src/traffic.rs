//! The conversation generator: Poisson arrivals (seeded) over the queues, each conversation run
//! through a real lifecycle, every state change published as a full snapshot (§3.1 [INF]: "each
//! event carries a full snapshot … not a delta").
//!
//! Lifecycle of one conversation (durations drawn from `traffic`, protocol time, scaled):
//! 1. `queued`: customer (call connected, inbound) and an `acd` participant for the queue.
//! 2. `abandoned` (with `abandon_probability`): the customer hangs up while queued; the end.
//! 3. `alerting`: an agent participant appears, call `alerting`.
//! 4. `connected`: the agent answers; the `acd` participant disconnects with `transfer`.
//! 5. optionally `transferred` (with `transfer_probability`, once): the agent's call disconnects
//!    with `transfer`, a new `acd` participant for another queue connects; then `wrapup` for the
//!    first agent, and steps 3–4 again on the second queue.
//! 6. `disconnected`: the customer hangs up (`endpoint`), the agent's call ends (`peer`); the
//!    conversation has ended.
//! 7. `wrapup`: the agent's wrap-up code is set (after-call work done); the final snapshot.
//!
//! Every snapshot goes to the topic of every queue the conversation has touched so far, so after
//! a transfer both queues' topics see it until the end ([INF]; the reference does not say when a
//! queue topic stops reporting a transferred conversation).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;
use rand::rngs::StdRng;

use crate::clock::Clock;
use crate::config::DurationRange;
use crate::conversation::{ConvState, Part, Purpose, WrapupState, to_event};
use crate::models::{Envelope, Metadata};
use crate::org::counters::Counters;
use crate::org::sockets::SocketCmd;
use crate::org::{DIVISION_ID, Org, lock};
use crate::topics::queue_topic;
use crate::truth::SnapshotInput;

const CUSTOMER_NAMES: &[&str] =
    &["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov", "Donald Knuth"];

/// A random UUID from the seeded generator.
pub(crate) fn seeded_uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.random::<[u8; 16]>()).into_uuid().to_string()
}

fn draw(rng: &mut StdRng, r: DurationRange) -> Duration {
    if r.max <= r.min {
        return r.min;
    }
    let span = (r.max - r.min).as_secs_f64();
    r.min.saturating_add(Duration::from_secs_f64(rng.random::<f64>() * span))
}

#[derive(Debug, Clone)]
struct Agent {
    part_id: String,
    call_id: String,
    user_id: String,
    name: String,
}

#[derive(Debug, Clone)]
struct Leg {
    queue_id: String,
    queue_name: String,
    acd_part_id: String,
    acd_call_id: String,
    agent: Agent,
    queue_wait: Duration,
    alert: Duration,
    talk: Duration,
    wrapup: Duration,
    wrapup_code: String,
}

#[derive(Debug, Clone)]
struct Plan {
    id: String,
    customer_part_id: String,
    customer_call_id: String,
    customer_name: String,
    ani: String,
    abandon: bool,
    legs: Vec<Leg>,
}

fn agent_for(rng: &mut StdRng, queue_id: &str, queue_name: &str, per_queue: usize) -> Agent {
    let n = rng.random_range(0..per_queue.max(1));
    let user_id =
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{queue_id}/agent/{n}").as_bytes()).to_string();
    Agent {
        part_id: seeded_uuid(rng),
        call_id: seeded_uuid(rng),
        user_id,
        name: format!("Agent {} ({queue_name})", n + 1),
    }
}

fn make_plan(org: &Org, rng: &mut StdRng, queue: (String, String), others: &[(String, String)]) -> Plan {
    let t = &org.cfg.traffic;
    let leg = |rng: &mut StdRng, (queue_id, queue_name): (String, String)| Leg {
        acd_part_id: seeded_uuid(rng),
        acd_call_id: seeded_uuid(rng),
        agent: agent_for(rng, &queue_id, &queue_name, t.agents_per_queue),
        queue_wait: draw(rng, t.queue_wait),
        alert: draw(rng, t.alert),
        talk: draw(rng, t.talk),
        wrapup: draw(rng, t.wrapup),
        wrapup_code: t.wrapup_codes[rng.random_range(0..t.wrapup_codes.len())].clone(),
        queue_id,
        queue_name,
    };
    let id = seeded_uuid(rng);
    let customer_part_id = seeded_uuid(rng);
    let customer_call_id = seeded_uuid(rng);
    let customer_name = CUSTOMER_NAMES[rng.random_range(0..CUSTOMER_NAMES.len())].to_string();
    let ani = format!("tel:+1555{:07}", rng.random_range(0..10_000_000u32));
    let abandon = rng.random::<f64>() < t.abandon_probability;
    let transfer = !abandon && !others.is_empty() && rng.random::<f64>() < t.transfer_probability;
    let mut legs = vec![leg(rng, queue)];
    if transfer {
        let target = others[rng.random_range(0..others.len())].clone();
        legs.push(leg(rng, target));
    }
    Plan { id, customer_part_id, customer_call_id, customer_name, ani, abandon, legs }
}

/// Starts one conversation on `queue_id` now. Returns its id, or `None` for an unknown queue.
pub(crate) fn start_conversation(org: &Arc<Org>, queue_id: &str) -> Option<String> {
    let queues: Vec<(String, String)> =
        lock(&org.state).queues.iter().map(|q| (q.id.clone(), q.name.clone())).collect();
    let queue = queues.iter().find(|(id, _)| id == queue_id)?.clone();
    let others: Vec<(String, String)> = queues.into_iter().filter(|(id, _)| id != queue_id).collect();
    let plan = make_plan(org, &mut lock(&org.traffic.rng), queue, &others);
    let id = plan.id.clone();
    Counters::inc(&org.counters.conversations_started);
    let org = org.clone();
    tokio::spawn(async move {
        let cancel = org.cancel.clone();
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = run_plan(&org, plan) => {}
        }
    });
    Some(id)
}

/// Poisson arrivals until shutdown.
pub(crate) async fn run_generator(org: Arc<Org>) {
    let t = &org.cfg.traffic;
    if !t.enabled || t.arrivals_per_minute <= 0.0 {
        return;
    }
    let rate_per_sec = t.arrivals_per_minute / 60.0;
    loop {
        let (gap, pick) = {
            let mut rng = lock(&org.traffic.rng);
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            (Duration::from_secs_f64((-u.ln() / rate_per_sec).min(1e9)), rng.random::<f64>())
        };
        tokio::select! {
            _ = org.cancel.cancelled() => break,
            _ = tokio::time::sleep(org.real(gap)) => {}
        }
        if org.traffic.paused.load(Ordering::Relaxed) {
            continue;
        }
        let queue_id = {
            let st = lock(&org.state);
            if st.queues.is_empty() {
                continue;
            }
            let i = ((pick * st.queues.len() as f64) as usize).min(st.queues.len() - 1);
            st.queues[i].id.clone()
        };
        start_conversation(&org, &queue_id);
    }
}

fn acd(leg: &Leg, now: i64, dnis: &str) -> Part {
    Part {
        id: leg.acd_part_id.clone(),
        purpose: Purpose::Acd,
        name: leg.queue_name.clone(),
        user_id: None,
        queue_id: Some(leg.queue_id.clone()),
        queue_name: Some(leg.queue_name.clone()),
        address: dnis.to_string(),
        call_id: leg.acd_call_id.clone(),
        initial_state: "connected",
        state: "connected",
        start_ms: now,
        connected_ms: Some(now),
        end_ms: None,
        disconnect_type: None,
        wrapup_required: false,
        wrapup: None,
        acw_start_ms: None,
        attributes: BTreeMap::new(),
    }
}

fn find<'a>(c: &'a mut ConvState, id: &str) -> Option<&'a mut Part> {
    c.participants.iter_mut().find(|p| p.id == id)
}

fn set_wrapup(c: &mut ConvState, part_id: &str, code: &str) {
    let now = Clock::now_ms();
    if let Some(a) = find(c, part_id) {
        let start = a.acw_start_ms.unwrap_or(now);
        a.wrapup =
            Some(WrapupState { code: code.to_string(), end_ms: now, duration_secs: (now - start).max(0) / 1000 });
    }
}

async fn run_plan(org: &Org, plan: Plan) {
    let dnis = "tel:+18005550100".to_string();
    let now = Clock::now_ms();
    let Some(first) = plan.legs.first() else { return };
    let mut attributes = BTreeMap::new();
    attributes.insert("context.customerName".to_string(), plan.customer_name.clone());
    let customer = Part {
        id: plan.customer_part_id.clone(),
        purpose: Purpose::Customer,
        name: plan.customer_name.clone(),
        user_id: None,
        queue_id: Some(first.queue_id.clone()),
        queue_name: None,
        address: plan.ani.clone(),
        call_id: plan.customer_call_id.clone(),
        initial_state: "connected",
        state: "connected",
        start_ms: now,
        connected_ms: Some(now),
        end_ms: None,
        disconnect_type: None,
        wrapup_required: false,
        wrapup: None,
        acw_start_ms: None,
        attributes,
    };
    let mut c = ConvState {
        id: plan.id.clone(),
        division_id: DIVISION_ID.into(),
        start_ms: now,
        participants: vec![customer, acd(first, now, &dnis)],
        queues: vec![first.queue_id.clone()],
        phase: "queued",
        customer_ani: plan.ani.clone(),
        dnis: dnis.clone(),
    };
    publish(org, &c);
    let last = plan.legs.len() - 1;
    for (i, leg) in plan.legs.iter().enumerate() {
        org.clock.sleep(leg.queue_wait).await;
        if plan.abandon && i == 0 {
            let now = Clock::now_ms();
            if let Some(p) = find(&mut c, &plan.customer_part_id) {
                p.disconnect(now, "endpoint");
            }
            if let Some(p) = find(&mut c, &leg.acd_part_id) {
                p.disconnect(now, "peer");
            }
            c.phase = "abandoned";
            publish(org, &c);
            return;
        }
        let now = Clock::now_ms();
        c.participants.push(Part {
            id: leg.agent.part_id.clone(),
            purpose: Purpose::Agent,
            name: leg.agent.name.clone(),
            user_id: Some(leg.agent.user_id.clone()),
            queue_id: Some(leg.queue_id.clone()),
            queue_name: Some(leg.queue_name.clone()),
            address: format!("sip:{}@sim.pure.cloud", leg.agent.user_id),
            call_id: leg.agent.call_id.clone(),
            initial_state: "alerting",
            state: "alerting",
            start_ms: now,
            connected_ms: None,
            end_ms: None,
            disconnect_type: None,
            wrapup_required: true,
            wrapup: None,
            acw_start_ms: None,
            attributes: BTreeMap::new(),
        });
        c.phase = "alerting";
        publish(org, &c);
        org.clock.sleep(leg.alert).await;
        let now = Clock::now_ms();
        if let Some(a) = find(&mut c, &leg.agent.part_id) {
            a.state = "connected";
            a.connected_ms = Some(now);
        }
        if let Some(q) = find(&mut c, &leg.acd_part_id) {
            q.disconnect(now, "transfer");
        }
        c.phase = "connected";
        publish(org, &c);
        org.clock.sleep(leg.talk).await;
        let now = Clock::now_ms();
        if i < last {
            let next = &plan.legs[i + 1];
            if let Some(a) = find(&mut c, &leg.agent.part_id) {
                a.disconnect(now, "transfer");
            }
            c.participants.push(acd(next, now, &dnis));
            if !c.queues.contains(&next.queue_id) {
                c.queues.push(next.queue_id.clone());
            }
            c.phase = "transferred";
            publish(org, &c);
            org.clock.sleep(leg.wrapup).await;
            set_wrapup(&mut c, &leg.agent.part_id, &leg.wrapup_code);
            c.phase = "wrapup";
            publish(org, &c);
        } else {
            if let Some(p) = find(&mut c, &plan.customer_part_id) {
                p.disconnect(now, "endpoint");
            }
            if let Some(a) = find(&mut c, &leg.agent.part_id) {
                a.disconnect(now, "peer");
            }
            c.phase = "disconnected";
            publish(org, &c);
            org.clock.sleep(leg.wrapup).await;
            set_wrapup(&mut c, &leg.agent.part_id, &leg.wrapup_code);
            c.phase = "wrapup";
            publish(org, &c);
        }
    }
}

/// Extra analytics delay from active `analytics_delay_spike` faults.
fn spike_delay(org: &Org) -> Duration {
    let now = tokio::time::Instant::now();
    let mut spikes = lock(&org.delay_spikes);
    spikes.retain(|(until, _)| now < *until);
    spikes.iter().map(|(_, d)| *d).max().unwrap_or_default()
}

/// Records a state change: analytics store, truth, and delivery to every subscribed socket.
pub(crate) fn publish(org: &Org, c: &ConvState) {
    let now_ms = Clock::now_ms();
    let a = &org.cfg.analytics;
    let jitter = {
        let mut rng = lock(&org.traffic.jitter_rng);
        a.data_delay_jitter.mul_f64(rng.random::<f64>())
    };
    let delay = org.real(a.data_delay.saturating_add(jitter).saturating_add(spike_delay(org)));
    let visible_ms = now_ms + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 4);
    let state = Arc::new(c.clone());
    lock(&org.convs).push(state, now_ms, visible_ms);
    let event = to_event(c);
    let body = serde_json::to_value(&event).unwrap_or_default();
    let summary = (c.ended(), c.end_ms(), c.wrapup_code());
    for q in &c.queues {
        let topic = queue_topic(q);
        let (subscribed, targets) = {
            let st = lock(&org.state);
            let inst = tokio::time::Instant::now();
            let mut subscribed = Vec::new();
            let mut targets = Vec::new();
            for ch in st.channels.values() {
                if ch.topic_set.contains(&topic) && ch.death(&st.tokens, inst).is_none() {
                    subscribed.push(ch.id.clone());
                    if let Some(att) = &ch.socket {
                        targets.push(att.clone());
                    }
                }
            }
            subscribed.sort();
            (subscribed, targets)
        };
        let envelope = Envelope {
            topic_name: topic.clone(),
            version: "2".into(),
            event_body: &body,
            metadata: Metadata { correlation_id: uuid::Uuid::new_v4().to_string() },
        };
        let text: Arc<str> = Arc::from(serde_json::to_string(&envelope).unwrap_or_default());
        let seq = lock(&org.truth).record(SnapshotInput {
            conversation_id: c.id.clone(),
            queue_id: q.clone(),
            topic,
            generated_ms: now_ms,
            phase: c.phase.to_string(),
            ended: summary.0,
            conversation_start_ms: c.start_ms,
            conversation_end_ms: summary.1,
            wrapup_code: summary.2.clone(),
            subscribed_channels: subscribed,
            body: org.cfg.truth.keep_bodies.then(|| body.clone()),
        });
        for att in targets {
            let _ = att.tx.send(SocketCmd::Event { seq, text: text.clone() });
        }
    }
}
