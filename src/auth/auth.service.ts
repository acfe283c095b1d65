import { Injectable } from '@nestjs/common';
import argon2 from 'argon2';
import { toChatView } from '../chats/chat-view.js';
import { ChatsRepository } from '../chats/chats.repository.js';
import { DomainEvents } from '../common/events/domain-events.js';
import type { Identity } from '../common/identity.js';
import { isUniqueViolation } from '../common/db-errors.js';
import { AppException } from '../common/errors/app.exception.js';
import { ErrorCode } from '../common/errors/error-code.js';
import { Sql } from '../database/sql.js';
import { DocumentsRepository } from '../documents/documents.repository.js';
import { ProjectsRepository } from '../projects/projects.repository.js';
import { UsageService } from '../usage/usage.service.js';
import type { UserEntity } from '../users/user.entity.js';
import { UsersRepository } from '../users/users.repository.js';
import type { AuthResponse, LoginDto, MeResponse, RegisterDto, UserView } from './dto/auth.dto.js';
import { TokenService } from './token.service.js';


// A hash to verify against when the email is unknown, so both failures take as long.
const DUMMY_HASH = argon2.hash('not-a-real-password-0000');

@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersRepository,
    private readonly chats: ChatsRepository,
    private readonly tokens: TokenService,
    private readonly usage: UsageService,
    private readonly events: DomainEvents,
    private readonly projects: ProjectsRepository,
    private readonly documents: DocumentsRepository,
    private readonly sql: Sql,
  ) {}

  async register(dto: RegisterDto, anonId?: string): Promise<AuthResponse> {
    const passwordHash = await argon2.hash(dto.password, { type: argon2.argon2id });
    let user: UserEntity;
    try {
      user = await this.users.create({ email: dto.email, passwordHash, name: dto.name ?? null });
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) throw new AppException(ErrorCode.EMAIL_TAKEN, 'This email is already registered');
      throw error;
    }
    await this.usage.grantInitialCredits(user.id);
    return this.signIn(user, anonId);
  }

  async login(dto: LoginDto, anonId?: string): Promise<AuthResponse> {
    const user = await this.users.findByEmail(dto.email);
    const valid = await argon2.verify(user?.passwordHash ?? (await DUMMY_HASH), dto.password);
    if (!user || !valid) throw new AppException(ErrorCode.INVALID_CREDENTIALS, 'Wrong email or password');
    return this.signIn(user, anonId);
  }

  async me(userId: string): Promise<MeResponse> {
    const user = await this.users.findById(userId);
    if (!user) throw new AppException(ErrorCode.UNAUTHORIZED, 'This account no longer exists');
    return { user: toUserView(user), usage: await this.usage.describe({ kind: 'user', userId }) };
  }

  private async signIn(user: UserEntity, anonId: string | undefined): Promise<AuthResponse> {
    if (anonId) {
      const visitor: Identity = { kind: 'anonymous', anonId };
      const account: Identity = { kind: 'user', userId: user.id };
      // Projects and documents first: a chat never belongs to the account before its project does.
      const [projectIds] = await this.sql.batch((tx) => [this.projects.transferAnonymous(tx, anonId, user.id), this.documents.transferAnonymous(tx, anonId, user.id)] as const);
      if (projectIds.length > 0) this.events.emit('projects.moved', { from: visitor, projectIds });
      const moved = await this.chats.transferAnonymous(anonId, user.id);
      // Open tabs follow the move: the visitor's lose the chats, the account's gain them.
      for (const chat of moved) {
        this.events.emit('chat.deleted', { owner: visitor, chatId: chat.id });
        this.events.emit('chat.created', { owner: account, chat: toChatView(chat) });
      }
    }
    return { ...this.tokens.sign(user.id), user: toUserView(user) };
  }
}

export function toUserView(user: UserEntity): UserView {
  return { id: user.id, email: user.email, name: user.name, created_at: user.createdAt.toISOString() };
}
