"""Pure sync engine: Graph <-> Odoo mapping and reconciliation. No Odoo, no clock, no I/O (STYLE R1, R2)."""
