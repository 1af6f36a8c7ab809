// grpc-js does not tell a picker which method is being called. A config selector sees every call first, so
// ours copies the method path into the call's pick information, where the picker reads it.
import * as grpc from '@grpc/grpc-js';
import { METHOD_PICK_KEY } from './balancer-name.js';

type ConfigSelector = grpc.experimental.ConfigSelector;

export function routingConfigSelector(): ConfigSelector {
  return {
    invoke(methodName: string) {
      return {
        methodConfig: { name: [] },
        pickInformation: { [METHOD_PICK_KEY]: methodName },
        status: grpc.status.OK,
        dynamicFilterFactories: [],
      };
    },
    unref() {
      // Holds nothing.
    },
  };
}
