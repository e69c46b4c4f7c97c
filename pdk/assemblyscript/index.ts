// Package entry of @reefhq/as-pdk: `import * as reef from "@reefhq/as-pdk"`.
export * from "./assembly/index";
export * from "./assembly/json";
