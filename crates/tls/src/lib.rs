//! TLS material for every Tern frontend: PEM loading, self-signed dev certificates, hot reload, client identity (being built).
