import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Identity } from '../../src/common/identity.js';
import { dataSourceOptions } from '../../src/database/data-source.js';
import { Sql } from '../../src/database/sql.js';
import { DocumentsRepository } from '../../src/documents/documents.repository.js';
import type { Passage } from '../../src/documents/extraction/chunker.js';
import { PassagesRepository } from '../../src/documents/passages.repository.js';
import { PostgresVectorStore } from '../../src/documents/retrieval/vector-store.js';
import { unit } from '../../src/llm/embeddings.service.js';
import { ProjectsRepository } from '../../src/projects/projects.repository.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const visitor = (): Identity => ({ kind: 'anonymous', anonId: randomUUID() });

describe('documents storage (repositories on PostgreSQL)', () => {
  let db: TestDatabase;
  let sources: DataSource[];
  let sql: Sql;
  let other: Sql;
  let documents: DocumentsRepository;
  let passages: PassagesRepository;
  let vectors: PostgresVectorStore;
  let projects: ProjectsRepository;

  beforeAll(async () => {
    db = await createTestDatabase();
    sources = [new DataSource(dataSourceOptions(db.url)), new DataSource(dataSourceOptions(db.url))];
    await Promise.all(sources.map((s) => s.initialize()));
    [sql, other] = sources.map((s) => Sql.of(s));
    documents = new DocumentsRepository(sql);
    passages = new PassagesRepository(sql);
    vectors = new PostgresVectorStore(sql);
    projects = new ProjectsRepository(sql);
  });
  afterAll(async () => {
    await Promise.all(sources.map((s) => s.destroy()));
    await db.drop();
  });

  const ROOMY = { documents: 1_000_000, bytes: 1e12 };
  const insert = (owner: Identity, projectId: string | null, filename: string, quota = ROOMY, repository = documents) =>
    repository.insert({ owner, projectId, filename, mediaType: 'text/markdown', bytes: 5, content: Buffer.from('hello') }, quota);
  const upload = async (owner: Identity, projectId: string | null = null, filename = 'a.md') => {
    const result = await insert(owner, projectId, filename);
    return result.kind === 'inserted' ? result.row : null;
  };

  // A document taken through a worker's steps to "ready" with these passages.
  async function readyDocument(owner: Identity, projectId: string | null, filename: string, texts: string[], config = 'english') {
    const row = (await upload(owner, projectId, filename))!;
    const claimId = randomUUID();
    await sql.query(`UPDATE documents SET claim_id = $2, lease_until = now() + interval '1 minute' WHERE id = $1`, [row.id, claimId]);
    const list: Passage[] = texts.map((content, ordinal) => ({ ordinal, content }));
    const ids = await passages.insert(row.id, claimId, config, list);
    expect(await documents.markReady(row.id, claimId, list.length, config)).not.toBeNull();
    return { id: row.id, passageIds: ids! };
  }

  describe('ingestion claims', () => {
    it('gives two workers asking at once two different documents, and nobody a third', async () => {
      const owner = visitor();
      const [a, b] = [await upload(owner), await upload(owner)];
      const workers = [new DocumentsRepository(sql), new DocumentsRepository(other)];
      const [x, y] = await Promise.all(workers.map((w) => w.claimNext(randomUUID(), 60)));
      expect(new Set([x!.id, y!.id])).toEqual(new Set([a!.id, b!.id]));
      expect(x!.content.toString()).toBe('hello');
      expect(x!.attempts).toBe(1);
      expect(await documents.claimNext(randomUUID(), 60)).toBeNull();
      // Cleared for the next tests.
      for (const c of [x!, y!]) await documents.markFailed(c.id, c.claimId, 'test');
    });

    it('hands a document whose lease ran out (its worker died) to the next worker, and the old claim is lost', async () => {
      const owner = visitor();
      const doc = (await upload(owner))!;
      const first = (await documents.claimNext(randomUUID(), 60))!;
      expect(first.id).toBe(doc.id);
      expect(await documents.claimNext(randomUUID(), 60)).toBeNull();
      await sql.query(`UPDATE documents SET lease_until = now() - interval '1 second' WHERE id = $1`, [doc.id]);

      const second = (await documents.claimNext(randomUUID(), 60))!;
      expect(second.id).toBe(doc.id);
      expect(second.attempts).toBe(2);
      expect(await documents.progress(doc.id, first.claimId, 50, 60)).toBeNull();
      expect(await passages.insert(doc.id, first.claimId, 'english', [{ ordinal: 0, content: 'stale' }])).toBeNull();
      expect(await documents.markReady(doc.id, first.claimId, 1, 'english')).toBeNull();
      expect(await documents.progress(doc.id, second.claimId, 50, 60)).toEqual({ owner, projectId: null });
      await documents.markFailed(doc.id, second.claimId, 'test');
    });

    it('keeps a released document out of reach until its retry time', async () => {
      const doc = (await upload(visitor()))!;
      const claim = (await documents.claimNext(randomUUID(), 60))!;
      await documents.release(doc.id, claim.claimId, 30);
      expect(await documents.claimNext(randomUUID(), 60)).toBeNull();
      await documents.release(doc.id, claim.claimId, 0); // no longer its claim: nothing changes
      await sql.query(`UPDATE documents SET lease_until = now() - interval '1 second' WHERE id = $1`, [doc.id]);
      const again = (await documents.claimNext(randomUUID(), 60))!;
      expect(again.id).toBe(doc.id);
      await documents.markFailed(doc.id, again.claimId, 'test');
    });

    it('stores a document in a project only when the project is the owner’s', async () => {
      const owner = visitor();
      const project = await projects.create(owner, 'Mine');
      expect((await upload(owner, project.id))!.project_id).toBe(project.id);
      expect(await upload(visitor(), project.id)).toBeNull();
      expect(await upload({ kind: 'user', userId: randomUUID() }, project.id)).toBeNull();
      // Left for no worker: marked failed.
      for (;;) {
        const c = await documents.claimNext(randomUUID(), 60);
        if (!c) break;
        await documents.markFailed(c.id, c.claimId, 'test');
      }
    });
  });

  describe('per-owner quota', () => {
    it('takes a document only while the owner has room for it, counting and summing every status', async () => {
      const owner = visitor();
      const quota = { documents: 3, bytes: 12 };
      expect((await insert(owner, null, 'a.md', quota)).kind).toBe('inserted');
      expect((await insert(owner, null, 'b.md', quota)).kind).toBe('inserted');
      // 10 of 12 bytes used: another 5 would not fit, although a third document would.
      expect(await insert(owner, null, 'c.md', quota)).toEqual({ kind: 'over_quota', used: { documents: 2, bytes: 10 } });
      expect(await documents.usage(owner)).toEqual({ documents: 2, bytes: 10 });
      // Another owner's room is its own.
      expect((await insert(visitor(), null, 'd.md', quota)).kind).toBe('inserted');
      await drainClaims();
    });

    it('gives the last room to one of two uploads of one owner arriving at once, on two connections', async () => {
      const owner = visitor();
      const quota = { documents: 1, bytes: 1000 };
      const results = await Promise.all([insert(owner, null, 'a.md', quota, documents), insert(owner, null, 'b.md', quota, new DocumentsRepository(other))]);
      expect(results.map((r) => r.kind).sort()).toEqual(['inserted', 'over_quota']);
      expect((await documents.usage(owner)).documents).toBe(1);
      await drainClaims();
    });

    it('tells a foreign project from a full quota', async () => {
      const project = await projects.create(visitor(), 'Theirs');
      expect(await insert(visitor(), project.id, 'a.md', { documents: 0, bytes: 0 })).toEqual({ kind: 'project_not_found' });
    });
  });

  // Documents left for no worker: marked failed, so that later claims find only their own.
  async function drainClaims(): Promise<void> {
    for (;;) {
      const c = await documents.claimNext(randomUUID(), 60);
      if (!c) break;
      await documents.markFailed(c.id, c.claimId, 'test');
    }
  }

  describe('full-text search', () => {
    const owner = visitor();
    let projectId: string;
    let inProject: { id: string; passageIds: string[] };

    beforeAll(async () => {
      projectId = (await projects.create(owner, 'Station')).id;
      inProject = await readyDocument(owner, projectId, 'station.md', [
        'The weather station records wind speed and rainfall every ten minutes.',
        'Calibration of the anemometer happens every spring, before the storm season.',
        'The lighthouse keeper on Skerry Island is named Oswin Tarrant.',
        'The station name is written on every report, and every report has a name field.',
        'Rainfall is measured in millimetres; the station reports the name of each gauge.',
      ]);
      await readyDocument(owner, null, 'loose.md', ['A note outside any project about the lighthouse keeper of Brisk Point, Ada Morrow.']);
      await readyDocument(visitor(), null, 'foreign.md', ['Someone else’s lighthouse keeper is called Mallory Quint.']);
      await readyDocument(owner, projectId, 'kurz.md', ['Der Leuchtturmwärter der Insel heißt Jonas Weber und wohnt im Turm.'], 'german');
    });

    const search = (question: string, scopeProject: string | null = projectId, who = owner) => passages.search({ owner: who, projectId: scopeProject }, question, 5);

    it('ranks the passage with the question’s rare words first, though the question shares few of its words', async () => {
      const hits = await search('What is the name of the lighthouse keeper?');
      expect(hits[0].content).toContain('Oswin Tarrant');
      expect(hits[0].documentId).toBe(inProject.id);
      expect(hits[0].filename).toBe('station.md');
      // "name" alone matches two more passages, below it.
      expect(hits.map((h) => h.ordinal)).toEqual(expect.arrayContaining([2, 3, 4]));
      expect(hits[0].score).toBeGreaterThan(hits[1].score);
    });

    it('stems (calibrating → calibration), matches prefixes and quoted phrases', async () => {
      expect((await search('calibrating'))[0].ordinal).toBe(1);
      expect((await search('anemom'))[0].ordinal).toBe(1);
      const phrase = await search('"wind speed" station');
      expect(phrase[0].ordinal).toBe(0);
    });

    it('searches each document in its own language', async () => {
      const hits = await search('Wie heißt der Leuchtturmwärter?');
      expect(hits[0].filename).toBe('kurz.md');
      expect(hits[0].content).toContain('Jonas Weber');
    });

    it('stays inside the scope: the project, or the owner’s documents outside any project, never another owner’s', async () => {
      const outside = await search('lighthouse keeper', null);
      expect(outside.map((h) => h.filename)).toEqual(['loose.md']);
      const inside = await search('lighthouse keeper');
      expect(inside.map((h) => h.filename)).not.toContain('loose.md');
      expect(inside.map((h) => h.filename)).not.toContain('foreign.md');
      expect(await search('lighthouse keeper', projectId, visitor())).toEqual([]);
    });

    it('finds nothing for a question of common words only, and nothing of a deleted document', async () => {
      expect(await search('what is the')).toEqual([]);
      const doc = await readyDocument(owner, projectId, 'gone.md', ['Zanzibar quokkas juggle marmalade.']);
      expect((await search('quokkas'))[0]?.documentId).toBe(doc.id);
      expect(await documents.deleteOwned(doc.id, owner)).toEqual({ projectId });
      expect(await search('quokkas')).toEqual([]);
      expect((await sql.query(`SELECT count(*)::int AS n FROM document_passages WHERE document_id = $1`, [doc.id]))[0].n).toBe(0);
    });

    it('copes with quotes, backslashes and operators in the question', async () => {
      await expect(search(`O'Neil's \\ back\\slash & | ! <-> ( ) :* 'quoted'`)).resolves.toEqual(expect.any(Array));
    });
  });

  describe(PostgresVectorStore.name, () => {
    it('ranks the scope’s passages by cosine similarity, skipping vectors of another length', async () => {
      const owner = visitor();
      const doc = await readyDocument(owner, null, 'vec.md', ['north', 'north-east', 'east', 'other model']);
      await vectors.upsert([
        { passageId: doc.passageIds[0], vector: unit([0, 1, 0]) },
        { passageId: doc.passageIds[1], vector: unit([1, 1, 0]) },
        { passageId: doc.passageIds[2], vector: unit([1, 0, 0]) },
        { passageId: doc.passageIds[3], vector: unit([1, 0, 0, 0]) },
      ]);
      const foreign = await readyDocument(visitor(), null, 'x.md', ['foreign']);
      await vectors.upsert([{ passageId: foreign.passageIds[0], vector: unit([0, 1, 0]) }]);

      const hits = await vectors.nearest({ owner, projectId: null }, unit([0.1, 1, 0]), 10);
      expect(hits.map((h) => h.content)).toEqual(['north', 'north-east', 'east']);
      expect(hits[0].score).toBeCloseTo(1 / Math.sqrt(1.01), 5);
      expect(hits[2].score).toBeCloseTo(0.1 / Math.sqrt(1.01), 5);
    });
  });
});
