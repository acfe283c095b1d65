import { Global, Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { Sql } from './sql.js';

// The repositories' database: the pool of TypeORM's data source, with pipelined transactions.
@Global()
@Module({
  providers: [{ provide: Sql, inject: [DataSource], useFactory: (dataSource: DataSource) => Sql.of(dataSource) }],
  exports: [Sql],
})
export class SqlModule {}
