import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { UserEntity } from './user.entity.js';

@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(UserEntity) private readonly users: Repository<UserEntity>) {}

  findById(id: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ id });
  }

  findByEmail(email: string): Promise<UserEntity | null> {
    return this.users.findOneBy({ email: email.toLowerCase() });
  }

  // Throws the driver's unique violation (users_email_key) when the email is taken.
  create(input: { email: string; passwordHash: string; name: string | null }): Promise<UserEntity> {
    return this.users.save(this.users.create({ ...input, email: input.email.toLowerCase() }));
  }
}
