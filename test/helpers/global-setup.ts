// Placeholder until the database test harness lands (creates the migrated template database).
export default function setup(): void {}
