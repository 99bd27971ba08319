//! The records of dynamic credentials: made for a live grant, ended with it.
//!
//! The daemon makes a credential outside the broker's lock, records it
//! here before handing it out, and ends it when its grant ends (or, after a
//! restart, when it finds the grant ended). Records hold names, never the
//! credential.

use warrant_audit::Event;
use warrant_dynamic::stores::CredentialRecord;

use crate::error::Error;
use crate::protocol::{ErrorBody, ErrorCode};
use crate::state::{Change, credential_key};

use super::{Broker, Outcome};

impl Broker {
    /// Records a credential just made. Refused when its grant is no longer
    /// active (it ended while the credential was being made): the caller
    /// ends the credential at once.
    pub fn credential_made(&mut self, record: CredentialRecord) -> Result<Outcome<()>, Error> {
        if !self.is_active(&record.grant) {
            return Ok(Err(ErrorBody::new(
                ErrorCode::NotActive,
                format!("grant {} ended while its credential was made", record.grant),
                None,
            )));
        }
        self.record(Event::CredentialIssued {
            grant: record.grant.clone(),
            store: record.store.clone(),
            role: record.role.clone(),
            login: record.login.clone(),
        })?;
        self.stage(Change::Credential(record.clone()));
        self.credentials.insert(credential_key(&record), record);
        Ok(Ok(()))
    }

    /// Records that a credential was ended.
    pub fn credential_ended(
        &mut self,
        record: &CredentialRecord,
        reason: &str,
    ) -> Result<Outcome<()>, Error> {
        if self.credentials.remove(&credential_key(record)).is_none() {
            return Ok(Ok(()));
        }
        self.record(Event::CredentialRevoked {
            grant: record.grant.clone(),
            store: record.store.clone(),
            role: record.role.clone(),
            login: record.login.clone(),
            reason: reason.to_owned(),
        })?;
        self.stage(Change::RemoveCredential(record.clone()));
        Ok(Ok(()))
    }

    /// Credentials whose grant is no longer live: to end.
    pub fn credentials_to_end(&self) -> Vec<CredentialRecord> {
        self.credentials
            .values()
            .filter(|c| !self.live.contains_key(&c.grant))
            .cloned()
            .collect()
    }

    /// Every credential not yet ended (live grants' and ended ones').
    pub fn credentials(&self) -> Vec<CredentialRecord> {
        self.credentials.values().cloned().collect()
    }
}
