// Every handler module registers itself with ./handlers when imported.
import "./file";
import "./exec";
import "./bridge";
import "./template";
import "./lxc";
import "./access";
