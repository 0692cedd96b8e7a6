//! How channels end early: eviction, forced expiry and token revocation (§1, §2.5).
//!
//! An evicted channel's socket receives `v2.system.no_longer_subscribed.{id}` (reason
//! `another_channel_subscribed`, [INF]) and is closed (close frame 1000). On expiry (of the
//! channel or of its token) an open socket is left up and keeps heartbeating but carries no more
//! events. On revocation it receives `v2.system.token_revoked.{id}` (reason `user_tokens_revoked`)
//! and is closed.

use tokio::time::Instant;

use crate::org::channels::Death;
use crate::org::counters::Counters;
use crate::org::sockets::{Attachment, SocketCmd};
use crate::org::state::State;
use crate::org::system::{SystemKind, system_frame};
use crate::org::{Org, lock};

/// Marks a channel dead and hands back its socket (if any) so the caller can notify it outside the lock.
pub(crate) fn kill_locked(state: &mut State, id: &str, death: Death) -> Option<(String, Attachment)> {
    let ch = state.channels.get_mut(id)?;
    if ch.killed.is_none() {
        ch.killed = Some(death);
    }
    ch.socket.take().map(|a| (ch.client_id.clone(), a))
}

/// Evicts a channel as if a 21st channel had been created: no_longer_subscribed, then close.
/// Returns whether a socket was notified.
pub(crate) fn evict(org: &Org, id: &str) -> bool {
    let taken = kill_locked(&mut lock(&org.state), id, Death::Evicted);
    Counters::inc(&org.counters.channels_evicted);
    notify_and_close(org, id, taken, SystemKind::NoLongerSubscribed)
}

/// Sends a socket taken from a dead channel its system message, then closes it. Returns whether
/// the socket took the command.
pub(crate) fn notify_and_close(org: &Org, id: &str, taken: Option<(String, Attachment)>, kind: SystemKind) -> bool {
    match taken {
        Some((client_id, att)) => {
            let text = system_frame(org, id, &client_id, kind);
            att.tx.send(SocketCmd::SystemThenClose { text, code: 1000, reason: "channel closed".into() }).is_ok()
        }
        None => false,
    }
}

/// Force-expires a channel now; its socket (if any) stays open but gets no more events.
pub(crate) fn expire_now(org: &Org, id: &str) -> bool {
    let mut st = lock(&org.state);
    match st.channels.get_mut(id) {
        Some(ch) if ch.killed.is_none() => {
            ch.killed = Some(Death::Expired);
            true
        }
        _ => false,
    }
}

/// Revokes tokens; their channels die and their sockets get `token_revoked` and are closed.
/// Returns the ids of channels that died.
pub(crate) fn revoke_tokens(org: &Org, tokens: &[String]) -> Vec<String> {
    let now = Instant::now();
    let mut notify = Vec::new();
    let mut dead = Vec::new();
    {
        let mut st = lock(&org.state);
        for t in tokens {
            if let Some(rec) = st.tokens.get_mut(t) {
                rec.revoked = true;
            }
        }
        let ids: Vec<String> = st
            .channels
            .values()
            .filter(|c| tokens.contains(&c.token) && c.killed.is_none() && now < c.expires)
            .map(|c| c.id.clone())
            .collect();
        for id in ids {
            let taken = kill_locked(&mut st, &id, Death::TokenRevoked);
            dead.push(id.clone());
            notify.push((id, taken));
        }
    }
    for (id, taken) in notify {
        notify_and_close(org, &id, taken, SystemKind::TokenRevoked);
    }
    dead
}
