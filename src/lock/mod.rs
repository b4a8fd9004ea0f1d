//! PEP 751 lockfiles: the data model, a deterministic writer and a reader. Pure: no I/O.
