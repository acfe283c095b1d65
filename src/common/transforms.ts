// class-transformer helpers shared by the DTOs of every edge.
export const trim = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value);

// Ids name rooms ("chat:<id>") and are compared as strings: one spelling, the database's.
export const lower = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.toLowerCase() : value);

// The last page a list may ask for: beyond it the offset would overflow PostgreSQL's bigint.
export const MAX_PAGE = 1_000_000;
