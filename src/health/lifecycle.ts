import { Injectable } from '@nestjs/common';

// Where this instance is in its life, for readiness and for refusing new work while draining.
@Injectable()
export class Lifecycle {
  private drainingSince?: number;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  startDraining(): void {
    this.drainingSince ??= Date.now();
  }
}
