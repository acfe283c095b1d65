// Who is asking: a signed-in user or an anonymous visitor. Every transport resolves one of these.
export type Identity = { kind: 'user'; userId: string } | { kind: 'anonymous'; anonId: string };

// The room / idempotency key of an identity: "u:<user id>" or "a:<anon id>".
export function ownerKey(identity: Identity): string {
  return identity.kind === 'user' ? `u:${identity.userId}` : `a:${identity.anonId}`;
}

// The owner of a chat, from its columns (exactly one is set).
export function identityOfOwner(userId: string | null, anonId: string | null): Identity {
  return userId ? { kind: 'user', userId } : { kind: 'anonymous', anonId: anonId! };
}

// The columns that own a chat.
export function ownerColumns(identity: Identity): { userId: string | null; anonId: string | null } {
  return identity.kind === 'user' ? { userId: identity.userId, anonId: null } : { userId: null, anonId: identity.anonId };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

// The one column that owns a row (user_id or anon_id) and its value: statements name the column
// in their text rather than compare both with IS NOT DISTINCT FROM, so that an index serves them.
export function ownerColumn(identity: Identity): { column: 'user_id' | 'anon_id'; id: string } {
  return identity.kind === 'user' ? { column: 'user_id', id: identity.userId } : { column: 'anon_id', id: identity.anonId };
}
