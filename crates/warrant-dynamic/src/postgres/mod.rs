//! Native dynamic PostgreSQL roles (being written).
