import { ConfigurableModuleBuilder, type FactoryProvider } from '@nestjs/common';
import {
  getHeartbeatManagerToken,
  HEARTBEAT_MANAGER_DEFINITIONS,
  HEARTBEAT_MODULE_OPTIONS,
} from './heartbeat.constants.js';
import { declareHeartbeatManagers } from './heartbeat-options.validation.js';
import { HeartbeatRegistry } from './heartbeat.registry.js';
import type {
  HeartbeatModuleExtras,
  HeartbeatModuleOptions,
} from './interfaces/heartbeat-module-options.interface.js';

export const { ConfigurableModuleClass: ConfigurableHeartbeatModule } =
  new ConfigurableModuleBuilder<HeartbeatModuleOptions>({
    optionsInjectionToken: HEARTBEAT_MODULE_OPTIONS,
  })
    .setClassMethodName('forRoot')
    .setExtras<HeartbeatModuleExtras>({ managers: {}, isGlobal: false }, (definition, extras) => {
      // Manager names must be known when the module is imported, so that each gets an injection token.
      const declarations = declareHeartbeatManagers(extras.managers);
      const managerProviders: FactoryProvider[] = declarations.map(({ name }) => ({
        provide: getHeartbeatManagerToken(name),
        useFactory: (registry: HeartbeatRegistry) => registry.getManager(name),
        inject: [HeartbeatRegistry],
      }));
      return {
        ...definition,
        global: extras.isGlobal,
        providers: [
          ...(definition.providers ?? []),
          { provide: HEARTBEAT_MANAGER_DEFINITIONS, useValue: declarations },
          ...managerProviders,
        ],
        exports: [...(definition.exports ?? []), ...managerProviders.map(({ provide }) => provide)],
      };
    })
    .build();
