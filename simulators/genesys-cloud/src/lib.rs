//! A fake Genesys Cloud org.
