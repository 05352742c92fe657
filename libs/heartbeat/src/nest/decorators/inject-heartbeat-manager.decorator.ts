import { Inject } from '@nestjs/common';
import { getHeartbeatManagerToken } from '../heartbeat.constants.js';

/** Injects the manager declared under `name` in `HeartbeatModule.forRoot({ managers })`. */
export const InjectHeartbeatManager = (name: string): ParameterDecorator & PropertyDecorator =>
  Inject(getHeartbeatManagerToken(name));
