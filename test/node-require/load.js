// Jest 30 on Node < 24.9 cannot require() packages that ship only ES modules (typebox 1.x, cookie, ...),
// while Node 20.19+ itself can. These shims hand Jest the module as Node loads it, from the shim's folder.
const { Module } = require('node:module');

module.exports = function load(id, from) {
  const host = new Module(from);
  host.paths = require.resolve.paths(id) ?? [];
  return host.require(id);
};
