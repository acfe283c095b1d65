import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { ChatEntity } from './chat.entity.js';
import { ChatsRepository } from './chats.repository.js';

@Module({
  imports: [TypeOrmModule.forFeature([ChatEntity])],
  providers: [ChatsRepository],
  exports: [ChatsRepository],
})
export class ChatsModule {}
