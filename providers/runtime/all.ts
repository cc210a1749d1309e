// Every handler module registers itself with ./handlers when imported.
import "./file";
import "./exec";
