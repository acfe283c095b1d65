import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { MessageEntity } from './message.entity.js';
import { MessagesRepository } from './messages.repository.js';
import { ChatEntity } from './chat.entity.js';
import { ClientChatEntity } from './client-chat.entity.js';
import { ChatsRepository } from './chats.repository.js';
import { ChatsService } from './chats.service.js';

// Chats and their messages are stored together; the generation engine and the gateway both use
// these repositories, so they live in one module that both import.
@Module({
  imports: [TypeOrmModule.forFeature([ChatEntity, ClientChatEntity, MessageEntity])],
  providers: [ChatsRepository, MessagesRepository, ChatsService],
  exports: [ChatsRepository, MessagesRepository, ChatsService],
})
export class ChatsModule {}
