# sim-version: 1.26.3-3
# sim-os: debian alpine
# nginx: /etc/nginx tree (Debian layout with sites-available/-enabled; Alpine http.d), the nginx binary stub, and
# the service (Debian: nginx.service, enabled and started on install).
. /usr/lib/pve-sim/sim.sh
case "$1" in
install)
    sim_bin nginx
    if [ "$SIM_OS" = alpine ]; then
        sim_system_user nginx /var/lib/nginx /sbin/nologin
        sim_dir /etc/nginx/http.d
        sim_conffile /etc/nginx/nginx.conf <<'CONF'
user nginx;
worker_processes auto;
events { worker_connections 1024; }
http {
	include /etc/nginx/mime.types;
	include /etc/nginx/http.d/*.conf;
}
CONF
        sim_conffile /etc/nginx/mime.types </dev/null
        sim_conffile /etc/nginx/http.d/default.conf <<'CONF'
server { listen 80 default_server; location / { return 404; } }
CONF
        sim_dir /var/log/nginx nginx:nginx
        sim_openrc nginx <<'RC'
#!/sbin/openrc-run
description="Nginx http and reverse proxy server"
command="/usr/sbin/nginx"
extra_started_commands="reload"
start_pre() { /usr/sbin/nginx -t -q; }
RC
    else
        sim_conffile /etc/nginx/nginx.conf <<'CONF'
user www-data;
worker_processes auto;
pid /run/nginx.pid;
events { worker_connections 768; }
http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	include /etc/nginx/conf.d/*.conf;
	include /etc/nginx/sites-enabled/*;
}
CONF
        sim_conffile /etc/nginx/mime.types </dev/null
        sim_dir /etc/nginx/conf.d
        sim_conffile /etc/nginx/sites-available/default <<'CONF'
server {
	listen 80 default_server;
	root /var/www/html;
	server_name _;
}
CONF
        [ -e /etc/nginx/sites-enabled/default ] || sim_link /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default
        sim_dir /var/www/html
        sim_file /var/www/html/index.nginx-debian.html </dev/null
        sim_dir /var/log/nginx root:adm 0755
        sim_unit nginx.service <<'UNIT'
[Unit]
Description=A high performance web server and a reverse proxy server
After=network.target

[Service]
Type=forking
PIDFile=/run/nginx.pid
ExecStartPre=/usr/sbin/nginx -t -q -g 'daemon on; master_process on;'
ExecStart=/usr/sbin/nginx -g 'daemon on; master_process on;'
ExecReload=/usr/sbin/nginx -g 'daemon on; master_process on;' -s reload
ExecStop=-/sbin/start-stop-daemon --quiet --stop --retry QUIT/5 --pidfile /run/nginx.pid

[Install]
WantedBy=multi-user.target
UNIT
        sim_autostart nginx.service
    fi
    ;;
esac
