export class ModelView {
  id: string;
  provider: 'anthropic' | 'openai' | 'echo';
  // The model used when a request names none.
  default: boolean;
}

export class ModelsResponse {
  models: ModelView[];
}
