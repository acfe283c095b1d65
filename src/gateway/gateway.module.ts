import { Module } from '@nestjs/common';
import { ChatsModule } from '../chats/chats.module.js';
import { MessagesModule } from '../messages/messages.module.js';
import { ProjectsModule } from '../projects/projects.module.js';
import { UsageModule } from '../usage/usage.module.js';
import { ChatsGateway } from './chats.gateway.js';
import { InternalEmitController } from './internal-emit.controller.js';

@Module({
  imports: [ChatsModule, MessagesModule, UsageModule, ProjectsModule],
  controllers: [InternalEmitController],
  providers: [ChatsGateway],
})
export class GatewayModule {}
