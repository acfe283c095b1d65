import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { ownerColumns, type Identity } from '../common/identity.js';
import type { Queryable } from '../database/sql.js';
import type { ChatTurn } from '../llm/llm.types.js';
import type { MessageSource } from '../messages/stream-events.js';
import { ChatEntity } from './chat.entity.js';
import { ClientChatEntity } from './client-chat.entity.js';
import { MessageEntity, type MessageStatus } from './message.entity.js';

export interface FinishInput {
  status: Exclude<MessageStatus, 'streaming' | 'superseded'>;
  content: string;
  inputTokens: number | null;
  outputTokens: number | null;
  stopReason: string | null;
  errorCode: string | null;
}

export interface AbandonedMessage {
  id: string;
  content: string;
  model: string | null;
}

export type ChatRecord = Pick<ChatEntity, 'id' | 'title' | 'createdAt' | 'updatedAt' | 'lastMessageAt'>;

export interface NewTurn {
  owner: Identity;
  ownerKey: string;
  // Absent: a new chat with this title.
  chatId?: string;
  // A chat id chosen by the client (the AI SDK's): its chat when it has one, else a new chat
  // that this id maps to from now on. Used instead of chatId.
  clientChatId?: string | null;
  title: string;
  user: { id: string; content: string; clientMessageId: string | null; requestHash: string | null };
  assistant: { id: string; model: string };
}

export type TurnResult =
  // running: the owner's answers that were being generated before this one (on any instance).
  | { kind: 'created'; chat: ChatRecord; chatCreated: boolean; running: number }
  | { kind: 'chat_not_found' }
  // The client_message_id is taken: this request is a retry of an earlier one.
  | { kind: 'duplicate' };

export interface NewAnswer {
  owner: Identity;
  ownerKey: string;
  chatId: string;
  replyToId: string;
  assistant: { id: string; model: string };
}

// What regenerate answers again: the chat's last user message and its newest answer.
export interface AnswerTarget {
  userMessage: { id: string; content: string } | null;
  current: { id: string; status: MessageStatus; model: string | null } | null;
}

export interface Checkpoint {
  id: string;
  // How much of the stored text stays (in code points), and what follows it.
  keep: number;
  tail: string;
}

// How many of a chat's newest messages are read for the model; the token budget trims further.
const HISTORY_ROWS = 400;

interface ChatRow {
  id: string;
  title: string;
  created_at: Date;
  updated_at: Date;
  last_message_at: Date | null;
}

const CONVERSATION = `SELECT role, content FROM (
     SELECT role, content, created_at FROM messages
     WHERE chat_id = (SELECT chat_id FROM messages WHERE id = $1) AND created_at <= (SELECT created_at FROM messages WHERE id = $1)
       AND (role = 'user' OR (status IN ('complete', 'stopped') AND content <> ''))
     ORDER BY created_at DESC LIMIT $2
   ) recent ORDER BY created_at`;

// Messages. The statements of the generation engine take where they run (the pool, or a
// pipelined transaction of the caller's); the reads for listings go through TypeORM.
@Injectable()
export class MessagesRepository {
  constructor(@InjectRepository(MessageEntity) private readonly messages: Repository<MessageEntity>) {}

  // A turn in one statement: the chat (created, or the owner's existing one, touched: the row
  // lock makes a concurrent delete wait), the user message and the assistant message in state
  // "streaming". A client_message_id already used by this owner writes nothing (a retry). It also
  // counts the owner's running answers (the statement does not see its own insert), for the
  // per-identity cap: under the caller's admission lock that count cannot race.
  // A client chat id finds its chat, or maps itself to the chat created here; two first turns
  // of one owner cannot both create one, since the turn's transaction holds the owner's
  // admission lock before this statement runs.
  async insertTurn(q: Queryable, turn: NewTurn): Promise<TurnResult> {
    const { userId, anonId } = ownerColumns(turn.owner);
    const rows = await q.query<ChatRow & { created: boolean; answer_id: string | null; running: number }>(
      `WITH mapped AS (
         SELECT chat_id FROM client_chats WHERE owner_key = $7 AND client_chat_id = $12
       ), created AS (
         INSERT INTO chats (user_id, anon_id, title, last_message_at)
         SELECT $1, $2, $3, now() WHERE $4::uuid IS NULL AND NOT EXISTS (SELECT 1 FROM mapped)
         RETURNING id, title, created_at, updated_at, last_message_at
       ), mapping AS (
         INSERT INTO client_chats (owner_key, client_chat_id, chat_id)
         SELECT $7, $12, id FROM created WHERE $12::varchar IS NOT NULL
       ), touched AS (
         UPDATE chats SET updated_at = now(), last_message_at = now()
         WHERE id = COALESCE($4::uuid, (SELECT chat_id FROM mapped)) AND user_id IS NOT DISTINCT FROM $1 AND anon_id IS NOT DISTINCT FROM $2
         RETURNING id, title, created_at, updated_at, last_message_at
       ), chat AS (
         SELECT *, true AS created FROM created UNION ALL SELECT *, false FROM touched
       ), usr AS (
         INSERT INTO messages (id, chat_id, role, status, content, owner_key, client_message_id, request_hash)
         SELECT $5, chat.id, 'user', 'complete', $6, $7, $8, $9 FROM chat
         ON CONFLICT (owner_key, client_message_id) WHERE client_message_id IS NOT NULL DO NOTHING
         RETURNING id, chat_id, created_at
       ), answer AS (
         INSERT INTO messages (id, chat_id, role, status, content, model, reply_to_id, owner_key, created_at)
         SELECT $10, usr.chat_id, 'assistant', 'streaming', '', $11, usr.id, $7, usr.created_at + interval '1 microsecond' FROM usr
         RETURNING id
       )
       SELECT chat.*, (SELECT id FROM answer) AS answer_id,
              (SELECT count(*)::int FROM messages WHERE owner_key = $7 AND status = 'streaming') AS running
       FROM chat`,
      [userId, anonId, turn.title, turn.chatId ?? null, turn.user.id, turn.user.content, turn.ownerKey, turn.user.clientMessageId, turn.user.requestHash, turn.assistant.id, turn.assistant.model, turn.clientChatId ?? null],
    );
    const row = rows[0];
    if (!row) return { kind: 'chat_not_found' };
    if (!row.answer_id) return { kind: 'duplicate' };
    return { kind: 'created', chat: toChatRecord(row), chatCreated: row.created, running: row.running };
  }

  // The chat's last user message and its newest answer; null when the chat is not the owner's.
  async findAnswerTarget(q: Queryable, chatId: string, owner: Identity): Promise<AnswerTarget | null> {
    const { userId, anonId } = ownerColumns(owner);
    const rows = await q.query<{ user_message_id: string | null; user_content: string | null; answer_id: string | null; answer_status: MessageStatus | null; answer_model: string | null }>(
      `SELECT u.id AS user_message_id, u.content AS user_content, a.id AS answer_id, a.status AS answer_status, a.model AS answer_model
       FROM chats c
       LEFT JOIN LATERAL (SELECT id, content FROM messages WHERE chat_id = c.id AND role = 'user' ORDER BY created_at DESC LIMIT 1) u ON true
       LEFT JOIN LATERAL (SELECT id, status, model FROM messages WHERE reply_to_id = u.id AND role = 'assistant' ORDER BY created_at DESC LIMIT 1) a ON true
       WHERE c.id = $1 AND c.user_id IS NOT DISTINCT FROM $2 AND c.anon_id IS NOT DISTINCT FROM $3`,
      [chatId, userId, anonId],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      userMessage: row.user_message_id ? { id: row.user_message_id, content: row.user_content ?? '' } : null,
      current: row.answer_id ? { id: row.answer_id, status: row.answer_status!, model: row.answer_model } : null,
    };
  }

  // A new answer to a user message, in one statement: the chat touched, the replaced answer
  // marked superseded and the new one "streaming". Nothing is written while another answer to
  // that message is still streaming (the caller holds the owner's admission lock, so this
  // check cannot race another regenerate). Answers whether the chat was found and the answer
  // written, and how many of the owner's answers were running before (see insertTurn).
  async insertAnswer(q: Queryable, answer: NewAnswer): Promise<{ chatFound: boolean; inserted: boolean; running: number; replaced: string | null }> {
    const { userId, anonId } = ownerColumns(answer.owner);
    const [row] = await q.query<{ chat_found: boolean; inserted: boolean; running: number; replaced: string | null }>(
      `WITH chat AS (
         UPDATE chats SET updated_at = now(), last_message_at = now()
         WHERE id = $1 AND user_id IS NOT DISTINCT FROM $2 AND anon_id IS NOT DISTINCT FROM $3
         RETURNING id
       ), free AS (
         SELECT chat.id FROM chat
         WHERE NOT EXISTS (SELECT 1 FROM messages WHERE reply_to_id = $4 AND role = 'assistant' AND status = 'streaming')
       ), current AS (
         -- What is current now (another regenerate may have answered since the caller looked).
         SELECT id FROM messages WHERE reply_to_id = $4 AND role = 'assistant' AND status <> 'superseded'
       ), superseded AS (
         UPDATE messages SET status = 'superseded', updated_at = now()
         WHERE id IN (SELECT id FROM current) AND EXISTS (SELECT 1 FROM free)
         RETURNING id, created_at
       ), answer AS (
         INSERT INTO messages (id, chat_id, role, status, content, model, reply_to_id, replaces_id, owner_key)
         SELECT $5, free.id, 'assistant', 'streaming', '', $6, $4,
                (SELECT id FROM messages WHERE id IN (SELECT id FROM current) ORDER BY created_at DESC LIMIT 1), $7
         FROM free
         RETURNING replaces_id
       )
       SELECT EXISTS (SELECT 1 FROM chat) AS chat_found, EXISTS (SELECT 1 FROM answer) AS inserted,
              (SELECT replaces_id FROM answer) AS replaced,
              (SELECT count(*)::int FROM messages WHERE owner_key = $7 AND status = 'streaming') AS running`,
      [answer.chatId, userId, anonId, answer.replyToId, answer.assistant.id, answer.assistant.model, answer.ownerKey],
    );
    return { chatFound: row.chat_found, inserted: row.inserted, running: row.running, replaced: row.replaced };
  }


  // The conversation as the model should see it, up to a user message: oldest first, superseded
  // and failed answers left out; the newest HISTORY_ROWS at most. Compared in SQL: JavaScript
  // dates would drop the microseconds of created_at. The chat is that message's (it may have
  // been written earlier in the same transaction).
  conversation(q: Queryable, upToMessageId: string): Promise<ChatTurn[]> {
    return q.query<ChatTurn>(CONVERSATION, [upToMessageId, HISTORY_ROWS]);
  }

  // Only a message still streaming is finished: a second finish (e.g. the crash sweeper racing a
  // late generation) changes nothing. Answers whether this call finished it. (The chat was
  // touched when the turn was written, at the time the answer's row carries.)
  async finish(q: Queryable, id: string, input: FinishInput): Promise<boolean> {
    const rows = await q.query(
      `UPDATE messages SET status = $2, content = $3, input_tokens = $4, output_tokens = $5, stop_reason = $6, error_code = $7, updated_at = now()
       WHERE id = $1 AND status = 'streaming'
       RETURNING 1`,
      [id, input.status, input.content, input.inputTokens, input.outputTokens, input.stopReason, input.errorCode],
    );
    return rows.length > 0;
  }

  // The passages an answer was given (message_sources), kept for list_messages and replays.
  async setSources(q: Queryable, id: string, sources: MessageSource[]): Promise<void> {
    await q.query(`UPDATE messages SET sources = $2 WHERE id = $1`, [id, JSON.stringify(sources)]);
  }

  // Keeps the text produced so far and proves the generations alive (see closeAbandoned), for
  // any number of them in one statement. Idempotent: each keeps its stored prefix and appends.
  async checkpoint(q: Queryable, checkpoints: Checkpoint[]): Promise<void> {
    if (checkpoints.length === 0) return;
    await q.query(
      `UPDATE messages m SET content = left(m.content, c.keep) || c.tail, updated_at = now()
       FROM unnest($1::uuid[], $2::int[], $3::text[]) AS c(id, keep, tail)
       WHERE m.id = c.id AND m.status = 'streaming'`,
      [checkpoints.map((c) => c.id), checkpoints.map((c) => c.keep), checkpoints.map((c) => c.tail)],
    );
  }

  // Messages left "streaming" by a process that died: those without a sign of life for
  // `staleSeconds`. `running` are the ones this process is generating, never taken whatever
  // their age.
  async findAbandoned(q: Queryable, staleSeconds: number, running: string[] = []): Promise<string[]> {
    const rows = await q.query<{ id: string }>(
      `SELECT id FROM messages
       WHERE status = 'streaming' AND updated_at < now() - make_interval(secs => $1) AND id <> ALL($2::uuid[])
       ORDER BY updated_at LIMIT 1000`,
      [staleSeconds, running],
    );
    return rows.map((r) => r.id);
  }

  // Closes one abandoned message as an error with the text it had, if it is still streaming and
  // still silent (its generation may have finished or spoken meanwhile): null otherwise.
  async closeAbandoned(q: Queryable, id: string, staleSeconds: number): Promise<AbandonedMessage | null> {
    const rows = await q.query<{ id: string; content: string; model: string | null }>(
      `UPDATE messages SET status = 'error', error_code = 'INTERNAL_ERROR', stop_reason = 'interrupted', updated_at = now()
       WHERE id = $1 AND status = 'streaming' AND updated_at < now() - make_interval(secs => $2)
       RETURNING id, content, model`,
      [id, staleSeconds],
    );
    return rows[0] ?? null;
  }

  findById(id: string): Promise<MessageEntity | null> {
    return this.messages.findOneBy({ id });
  }

  // The message when its chat belongs to this owner; null for foreign and unknown alike.
  async findOwned(id: string, owner: Identity): Promise<MessageEntity | null> {
    const { userId, anonId } = ownerColumns(owner);
    return this.messages
      .createQueryBuilder('m')
      .innerJoin(ChatEntity, 'c', 'c.id = m.chat_id')
      .where('m.id = :id', { id })
      .andWhere(userId ? 'c.user_id = :userId' : 'c.anon_id = :anonId', { userId, anonId })
      .getOne();
  }

  // The newest answer being generated in the chat that this owner's client chat id maps to.
  // Its owner_key is checked too: the chat may have moved to an account since.
  findStreamingInClientChat(ownerKey: string, clientChatId: string): Promise<MessageEntity | null> {
    return this.messages
      .createQueryBuilder('m')
      .innerJoin(ClientChatEntity, 'cc', 'cc.chat_id = m.chat_id')
      .where('cc.owner_key = :ownerKey AND cc.client_chat_id = :clientChatId', { ownerKey, clientChatId })
      .andWhere(`m.owner_key = :ownerKey AND m.role = 'assistant' AND m.status = 'streaming'`)
      .orderBy('m.created_at', 'DESC')
      .limit(1)
      .getOne();
  }

  findByClientMessageId(ownerKey: string, clientMessageId: string): Promise<MessageEntity | null> {
    return this.messages.findOneBy({ ownerKey, clientMessageId, role: 'user' });
  }

  // The newest answer to a user message (regenerations included).
  findLatestAnswer(userMessageId: string): Promise<MessageEntity | null> {
    return this.messages.findOne({ where: { replyToId: userMessageId, role: 'assistant' }, order: { createdAt: 'DESC' } });
  }

  async listForChat(chatId: string, page: number, limit: number): Promise<{ messages: MessageEntity[]; total: number }> {
    const [messages, total] = await this.messages.findAndCount({
      where: { chatId },
      order: { createdAt: 'ASC', id: 'ASC' },
      skip: page * limit,
      take: limit,
    });
    return { messages, total };
  }
}

function toChatRecord(row: ChatRow): ChatRecord {
  return { id: row.id, title: row.title, createdAt: row.created_at, updatedAt: row.updated_at, lastMessageAt: row.last_message_at };
}
