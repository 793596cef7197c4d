/**
 * The native quiche binding of `@matrixai/quic`, re-exported with its types. Only the native
 * layer is used: the package's high-level classes are not part of ferry's transport.
 */
import { native } from '@matrixai/quic'

export const quiche = native.quiche
export type NativeConfig = native.Config
export type NativeConnection = native.Connection
export type HostPort = native.Host
export const Shutdown = native.Shutdown
export const PacketType = native.Type
