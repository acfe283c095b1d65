import { Injectable } from '@nestjs/common';

// Where this instance is in its life, for readiness and for refusing new work while draining.
@Injectable()
export class Lifecycle {
  private isDraining = false;

  get draining(): boolean {
    return this.isDraining;
  }

  startDraining(): void {
    this.isDraining = true;
  }
}
