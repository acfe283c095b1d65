// A document that will never be read, whatever the number of attempts: it fails with this
// message, which is meant for the user.
export class DocumentUnreadable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DocumentUnreadable';
  }
}
